import Engine
import Logging

extension AppHost {
    /// A store for each `@store(type='rdbms', datasource='NAME')` table of `app`, from the
    /// deployment's datasources. Deploy errors: an unknown datasource, an unreachable database, a
    /// database table whose columns differ. `canWrite` says whether this node may write now.
    static func tableStores(_ app: SiddhiApp, datasources: [String: DatasourceConfig], logger: Logger,
                            canWrite: @escaping @Sendable () -> Bool) throws(DeployError) -> [MySQLTableStore] {
        var stores: [MySQLTableStore] = []
        for table in app.storedTables {
            let at = "\(app.fileName):\(table.position)"
            let name = table.options["datasource"] ?? ""
            guard let datasource = datasources[name] else {
                let known = datasources.keys.sorted()
                throw DeployError(app: app.name, message: "\(at): table '\(table.name)': datasource '\(name)' is not defined in deployment.yaml (wso2.datasources.dataSources\(known.isEmpty ? " has none usable" : " usable: \(known.joined(separator: ", "))"); a datasource with problems is left out, see the configuration warnings)")
            }
            do {
                stores.append(try MySQLTableStore(table: table, datasource: name, endpoint: datasource.endpoint, canWrite: canWrite, logger: logger,
                                              metricDimensions: [("app", app.name)]))
            } catch {
                throw DeployError(app: app.name, message: "\(at): table '\(table.name)': datasource '\(name)' (\(datasource.url.host):\(datasource.url.port)/\(datasource.url.database)): \(error)")
            }
        }
        return stores
    }
}
