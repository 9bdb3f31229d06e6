import ArgumentParser
import ControlPlane
import Foundation

/// `tandem status`: the cluster as its database sees it: the active node, its term and lease, and
/// every member with its heartbeat and published state (role, in sync, queue depth).
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Show the HA cluster's active node, term, lease and members (reads the cluster DB).")

    @Option(name: .long, help: "deployment.yaml of any node of the cluster.")
    var config: String

    @Flag(name: .long, help: "Print one JSON object instead of text.")
    var json = false

    func run() throws {
        let loaded: LoadedConfig
        do {
            loaded = try DeploymentConfig.load(path: config)
        } catch {
            FileHandle.standardError.write(Data("tandem: invalid configuration \(config):\n\(error.description)\n".utf8))
            throw ExitCode(2)
        }
        let status: ClusterStatus
        do {
            status = try ClusterStatus.read(config: loaded.config)
        } catch {
            FileHandle.standardError.write(Data("tandem: cannot read the cluster state: \(error)\n".utf8))
            throw ExitCode(1)
        }
        guard json else {
            for line in status.lines { print(line) }
            return
        }
        var object: [String: Any] = ["group": status.groupId]
        if let leader = status.leader {
            object["active"] = leader.nodeId
            object["term"] = leader.term
            object["leaseRemainingMs"] = status.leaseRemainingMs ?? 0
        }
        object["members"] = status.members.map {
            ["nodeId": $0.nodeId, "alive": $0.isAlive, "heartbeatAgeMs": $0.heartbeatAgeMs, "properties": $0.properties] as [String: Any]
        }
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    }
}
