import ArgumentParser
import ControlPlane
import Engine
import Foundation

/// `tandem validate APP.siddhi…`: compile apps, build their sources and sinks as a deploy does (no
/// port opened, nothing connected), and print every error as `file:line:column: error: …`.
struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate", abstract: "Check Siddhi apps and report every error with its line and column.")

    @Argument(help: "Siddhi app files (.siddhi).")
    var files: [String]

    func run() throws {
        var failed = false
        for file in files {
            do {
                let source = try String(contentsOfFile: file, encoding: .utf8)
                let app = try SiddhiApp.compile(source: source, fileName: file)
                do throws(DeployError) {
                    try AppDeployCheck.check(app)
                } catch {
                    failed = true
                    FileHandle.standardError.write(Data((Self.located(error.message, file: file) + "\n").utf8))
                    continue
                }
                print("\(file): ok (app '\(app.name)', \(app.streams.count) streams, \(app.queryNames.count) queries)")
            } catch let errors as SiddhiCompileErrors {
                failed = true
                FileHandle.standardError.write(Data((errors.description + "\n").utf8))
            } catch {
                failed = true
                FileHandle.standardError.write(Data("\(file): error: cannot read: \(error.localizedDescription)\n".utf8))
            }
        }
        if failed { throw ExitCode(1) }
    }

    /// A deploy error's `file:line:column: message` as `file:line:column: error: message`, like the compiler's.
    static func located(_ message: String, file: String) -> String {
        guard message.hasPrefix(file + ":") else { return "\(file): error: \(message)" }
        let rest = message.dropFirst(file.count + 1)
        // "line:column: …" after the file name, or directly the message.
        if let space = rest.firstIndex(of: " "), space > rest.startIndex {
            let position = rest[..<space]
            if position.hasSuffix(":"), position.dropLast().allSatisfy({ $0.isNumber || $0 == ":" }) {
                return "\(file):\(position) error:\(rest[space...])"
            }
        }
        return "\(file): error:\(rest.hasPrefix(" ") ? "" : " ")\(rest)"
    }
}
