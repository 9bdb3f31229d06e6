import ArgumentParser
import ControlPlane

/// `tandem version`: versions of Tandem and the native libraries it runs with.
struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "version", abstract: "Print Tandem's version and the versions of jemalloc, liburing and the MySQL client.")

    func run() {
        for line in BuildInfo.current().lines { print(line) }
    }
}
