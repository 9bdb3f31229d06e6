import Engine

/// What the REST API asks of a node; run on the node's control thread (never on an engine thread).
enum NodeCommand: Sendable {
    /// `POST /siddhi-apps` (``DeployMode/create``) or `PUT /siddhi-apps` (``DeployMode/createOrUpdate``),
    /// with the app already compiled by the API (an app that does not compile never gets here).
    case deploy(app: SiddhiApp, source: String, mode: DeployMode)
    case list
    case source(name: String)
    case undeploy(name: String)
    /// Snapshot now and write it to the store.
    case backup(name: String)
    /// Replace the app's state with a stored revision (the latest when nil).
    case restore(name: String, revision: String?)
    case deleteRevisions(name: String)
    case statistics
}

/// POST creates only; PUT creates or replaces.
enum DeployMode: Sendable {
    case create
    case createOrUpdate
}

/// A successful answer to a ``NodeCommand``.
enum NodeReply: Sendable {
    case deployed(created: Bool, warning: String?)
    case apps([AppSummary])
    case source(String)
    case done(String)
    case revision(String)
    case statistics([AppSummary])
}

/// One app as the API reports it.
struct AppSummary: Sendable, Codable, Equatable {
    var name: String
    /// `active` (running), `inactive` (deployed but not running: its ports could not be opened),
    /// `passive` (an HA passive node holds it ready).
    var status: String
    var error: String?
    var deployedAtEpochMs: Int64
    var eventsIn: Int
    var eventsOut: Int
}

/// A failed API request: the HTTP status, a message, and details (e.g. every compile error).
struct ApiFailure: Error, Sendable {
    var status: Int
    var message: String
    var details: [String] = []
    /// The active node's id, for the passive's 503.
    var activeNode: String?

    static func notFound(_ app: String) -> ApiFailure {
        ApiFailure(status: 404, message: "no Siddhi app named '\(app)' is deployed")
    }
}
