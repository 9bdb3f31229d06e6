import ArgumentParser
import ControlPlane
import Foundation

/// `tandem hash-password`: reads a password from standard input (so it stays out of the shell
/// history) and prints its bcrypt hash for `tandem.api.auth.users[].passwordHash`.
struct HashPasswordCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hash-password", abstract: "Print the bcrypt hash of a password read from standard input (for tandem.api.auth.users).")

    @Option(name: .long, help: "bcrypt cost, 4…31 (each step doubles the time a login check takes).")
    var cost = Int(PasswordHashing.defaultCost)

    func validate() throws {
        if !(4...31).contains(cost) { throw ValidationError("--cost must be in 4…31") }
    }

    func run() throws {
        guard let line = readLine(strippingNewline: true), !line.isEmpty else {
            FileHandle.standardError.write(Data("tandem: no password on standard input\n".utf8))
            throw ExitCode(2)
        }
        print(PasswordHashing.hash(line, cost: UInt8(cost)))
    }
}
