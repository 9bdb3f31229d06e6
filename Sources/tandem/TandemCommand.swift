import ArgumentParser

/// `tandem`: run a node, publish events, validate and replay Siddhi apps.
struct TandemCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tandem",
        abstract: "Tandem: a Siddhi stream-processing node for two-node active/passive clusters.",
        subcommands: [RunCommand.self, StatusCommand.self, HealthCommand.self, HashPasswordCommand.self, SendCommand.self, ValidateCommand.self, ReplayCommand.self, PerfCommand.self, VersionCommand.self]
    )
}
