import ArgumentParser
import ControlPlane
import Dispatch
import Foundation

/// `tandem health`: GET the node's `/health`; exit 0 on 200, else 1. Meant for an ECS container
/// `healthCheck` command (`["CMD", "tandem", "health"]`).
struct HealthCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "health", abstract: "Check a node's /health: exit 0 when it answers 200, else 1.")

    @Option(name: .long, help: "The health URL (default \(HealthProbe.defaultURL)).")
    var url: String?

    @Option(name: .long, help: "deployment.yaml of the node: its tandem.api port, host and TLS give the URL.")
    var config: String?

    @Option(name: .long, help: "Give up after this many ms.")
    var timeoutMs = 3_000

    @Flag(name: .long, help: "Print nothing.")
    var quiet = false

    func validate() throws {
        if url != nil && config != nil { throw ValidationError("give --url or --config, not both") }
        if timeoutMs <= 0 { throw ValidationError("--timeout-ms must be positive") }
    }

    func run() throws {
        var target = url ?? HealthProbe.defaultURL
        if let config {
            do {
                target = HealthProbe.url(for: try DeploymentConfig.load(path: config).config.api)
            } catch {
                if !quiet { FileHandle.standardError.write(Data("tandem: invalid configuration \(config):\n\(error.description)\n".utf8)) }
                throw ExitCode(1)
            }
        }
        let box = ResultBox()
        let done = DispatchSemaphore(value: 0)
        Task { [target, timeoutMs] in
            box.value = await HealthProbe.check(url: target, timeoutMs: timeoutMs)
            done.signal()
        }
        done.wait()
        let (ok, summary) = box.value ?? (false, "no answer")
        if !quiet { print(summary) }
        if !ok { throw ExitCode(1) }
    }

    private final class ResultBox: @unchecked Sendable {
        var value: (Bool, String)?
    }
}
