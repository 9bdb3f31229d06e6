import ArgumentParser
import ControlPlane
import Foundation
import Glibc
import Logging

/// `tandem run`: start a node and deploy the apps of its apps folder; SIGINT/SIGTERM stop it cleanly.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Start a node and deploy every .siddhi app of the apps folder.")

    @Option(name: .long, help: "deployment.yaml to read (default: built-in defaults: standalone, file persistence).")
    var config: String?

    @Option(name: .long, help: "Folder of .siddhi apps (overrides tandem.appsDirectory, default deployment/siddhi-files).")
    var apps: String?

    func run() throws {
        let loaded: LoadedConfig
        if let config {
            do {
                loaded = try DeploymentConfig.load(path: config)
            } catch {
                FileHandle.standardError.write(Data("tandem: invalid configuration \(config):\n\(error.description)\n".utf8))
                throw ExitCode(2)
            }
        } else {
            loaded = LoadedConfig(config: .defaults, warnings: [])
        }
        let logger = Logging.bootstrap(level: loaded.config.tandem.logLevel)
        for warning in loaded.warnings { logger.warning("config: \(warning)") }

        // Signals are taken synchronously by this thread: block them before any other thread starts
        // (threads inherit the mask), and never die of SIGPIPE on a closed socket.
        signal(SIGPIPE, SIG_IGN)
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGINT)
        sigaddset(&signals, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &signals, nil)

        let node = TandemNode(config: loaded.config, appsDirectory: apps, logger: logger)
        do {
            try node.start()
        } catch {
            logger.critical("\(error)")
            throw ExitCode(1)
        }
        var received: Int32 = 0
        sigwait(&signals, &received)
        logger.info("received \(received == SIGINT ? "SIGINT" : "SIGTERM"); stopping")
        node.stop()
    }
}

enum Logging {
    /// swift-log to standard error (output events of log sinks go to standard output).
    static func bootstrap(level: String) -> Logger {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = Logger.Level(rawValue: level) ?? .info
            return handler
        }
        return Logger(label: "tandem")
    }
}
