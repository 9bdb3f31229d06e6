import ControlPlane
import Foundation
import Testing
import Yams
#if canImport(Glibc)
import Glibc
#endif

/// The ECS deployment (deploy/): the entrypoint against a fake task-metadata server on loopback and
/// without one, its database creation against the test MariaDB, deploy/deployment.yaml loaded by the
/// real config loader with exactly the task definitions' environment, the CloudFormation template
/// through `cfn-lint`, and both task definitions through `aws ecs register-task-definition` against
/// moto's ECS emulator. The tools come from scripts/install-deps.sh (pinned pip packages).
@Suite(.serialized) struct DeployTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }

    // MARK: - running commands

    struct Outcome {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs `executable ARGS` with exactly `environment` (plus PATH) and waits for it.
    static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                    timeoutSec: Double = 120) throws -> Outcome {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var env = environment
        env["PATH"] = env["PATH"] ?? ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        env["HOME"] = env["HOME"] ?? ProcessInfo.processInfo.environment["HOME"] ?? "/root"
        process.environment = env
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        // Files, not pipes: a chatty tool cannot fill a pipe buffer and stall while we wait.
        let outURL = dir.appendingPathComponent("out"), errURL = dir.appendingPathComponent("err")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: outURL)
        process.standardError = try FileHandle(forWritingTo: errURL)
        try process.run()
        let deadline = Date().addingTimeInterval(timeoutSec)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        return Outcome(status: process.terminationStatus,
                       stdout: (try? String(contentsOf: outURL, encoding: .utf8)) ?? "",
                       stderr: (try? String(contentsOf: errURL, encoding: .utf8)) ?? "")
    }

    /// A tool on PATH or in the Python scripts folder pip installs into (scripts/install-deps.sh).
    static func tool(_ name: String) throws -> String {
        var dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
        if let python = dirs.lazy.map({ "\($0)/python3" }).first(where: { FileManager.default.isExecutableFile(atPath: $0) }),
           let scripts = try? run(python, ["-c", "import sysconfig; print(sysconfig.get_path('scripts'))"]).stdout {
            dirs.append(scripts.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        guard let found = dirs.map({ "\($0)/\(name)" }).first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw DeployTestError("\(name) not found on PATH or in Python's scripts folder; run scripts/install-deps.sh")
        }
        return found
    }

    struct DeployTestError: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    /// A server process on a free loopback port, stopped when the test is done.
    final class ServerProcess {
        let process = Process()
        let port: Int
        init(executable: String, arguments: (Int) -> [String], environment: [String: String] = [:]) throws {
            port = freeTCPPort()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments(port)
            var env = ProcessInfo.processInfo.environment
            for (k, v) in environment { env[k] = v }
            process.environment = env
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
        }
        /// Polls until the port accepts (generous: moto_server imports a lot on a loaded machine).
        func waitUntilListening(timeoutSec: Double = 60) -> Bool {
            let deadline = Date().addingTimeInterval(timeoutSec)
            while Date() < deadline && process.isRunning {
                let fd = connectLoopback(port: port)
                if fd >= 0 { close(fd); return true }
                usleep(100_000)
            }
            return false
        }
        /// SIGKILL: the test process blocks SIGTERM and its children inherit the mask, and these
        /// servers keep nothing worth a clean stop.
        func stop() {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
    }

    // MARK: - the entrypoint

    /// A stand-in for `tandem`: prints its arguments and the variables the entrypoint resolved.
    static func standIn(in dir: URL) throws -> String {
        let url = dir.appendingPathComponent("fake-tandem")
        try """
            #!/bin/sh
            printf 'args=%s\\n' "$*"
            printf 'TANDEM_NODE_ID=%s\\n' "${TANDEM_NODE_ID-}"
            printf 'TANDEM_ADVERTISED_HOST=%s\\n' "${TANDEM_ADVERTISED_HOST-}"
            """.write(to: url, atomically: true, encoding: .utf8)
        chmod(url.path, 0o755)
        return url.path
    }

    static func values(_ stdout: String) -> [String: String] {
        var out: [String: String] = [:]
        for line in stdout.split(separator: "\n") {
            guard let eq = line.firstIndex(of: "=") else { continue }
            out[String(line[..<eq])] = String(line[line.index(after: eq)...])
        }
        return out
    }

    /// A Fargate-shaped `${ECS_CONTAINER_METADATA_URI_V4}/task` response: a sidecar listed first
    /// with another address, then this container (its DockerId is the URI's last segment).
    static func taskMetadata(dockerId: String, taskId: String, ip: String) -> String {
        """
        {
          "Cluster": "arn:aws:ecs:us-west-2:111122223333:cluster/default",
          "TaskARN": "arn:aws:ecs:us-west-2:111122223333:task/default/\(taskId)",
          "Family": "tandem", "Revision": "3", "DesiredStatus": "RUNNING", "KnownStatus": "RUNNING",
          "Containers": [
            {"DockerId": "\(taskId)-1111111111", "Name": "sidecar", "Type": "NORMAL",
             "Networks": [{"NetworkMode": "bridge", "IPv4Addresses": ["172.17.0.9"]}]},
            {"DockerId": "\(dockerId)", "Name": "tandem", "Type": "NORMAL",
             "Networks": [{"NetworkMode": "awsvpc", "IPv4Addresses": ["\(ip)"], "AttachmentIndex": 0,
                           "IPv4SubnetCIDRBlock": "10.0.2.0/24", "PrivateDNSName": "ip-10-0-2-106.ec2.internal"}]}
          ],
          "LaunchType": "FARGATE",
          "AvailabilityZone": "us-west-2a"
        }
        """
    }

    @Test func entrypointTakesNodeIdAndAddressFromTheTaskMetadata() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let taskId = "cd189a933e5849daa93386466019ab50"
        let dockerId = "\(taskId)-2495160603"
        let metaDir = dir.appendingPathComponent("meta/v4/\(dockerId)")
        try FileManager.default.createDirectory(at: metaDir, withIntermediateDirectories: true)
        try DeployTests.taskMetadata(dockerId: dockerId, taskId: taskId, ip: "10.0.2.106")
            .write(to: metaDir.appendingPathComponent("task"), atomically: true, encoding: .utf8)
        let server = try ServerProcess(executable: try DeployTests.tool("python3"), arguments: {
            ["-m", "http.server", "--bind", "127.0.0.1", "\($0)", "--directory", dir.appendingPathComponent("meta").path]
        })
        defer { server.stop() }
        #expect(server.waitUntilListening(), "metadata server did not start")
        let uri = "http://127.0.0.1:\(server.port)/v4/\(dockerId)"
        let fake = try DeployTests.standIn(in: dir)

        let resolved = try DeployTests.run("/bin/sh", [DeployTests.path("deploy/entrypoint.sh"), "run", "--config", "/etc/tandem/deployment.yaml"],
                                           environment: ["ECS_CONTAINER_METADATA_URI_V4": uri, "TANDEM_BIN": fake])
        #expect(resolved.status == 0, "\(resolved.stderr)")
        let v = DeployTests.values(resolved.stdout)
        #expect(v["TANDEM_NODE_ID"] == taskId)
        #expect(v["TANDEM_ADVERTISED_HOST"] == "10.0.2.106")
        #expect(v["args"] == "run --config /etc/tandem/deployment.yaml")

        // Values the task definition sets win over the metadata.
        let preset = try DeployTests.run("/bin/sh", [DeployTests.path("deploy/entrypoint.sh")],
                                         environment: ["ECS_CONTAINER_METADATA_URI_V4": uri, "TANDEM_BIN": fake,
                                                       "TANDEM_NODE_ID": "node-a", "TANDEM_ADVERTISED_HOST": "10.9.9.9"])
        let p = DeployTests.values(preset.stdout)
        #expect(preset.status == 0 && p["TANDEM_NODE_ID"] == "node-a" && p["TANDEM_ADVERTISED_HOST"] == "10.9.9.9", "\(preset)")
        // No arguments: the image's default command.
        #expect(p["args"] == "run --config /etc/tandem/deployment.yaml --apps /opt/tandem/apps")

        // The dry-run hook prints the same resolution and the command without running it.
        let dry = try DeployTests.run("/bin/sh", [DeployTests.path("deploy/entrypoint.sh"), "run"],
                                      environment: ["ECS_CONTAINER_METADATA_URI_V4": uri, "TANDEM_ENTRYPOINT_DRY_RUN": "1",
                                                    "TANDEM_BIN": "/nonexistent/tandem"])
        #expect(dry.status == 0, "\(dry.stderr)")
        #expect(dry.stdout == "TANDEM_NODE_ID=\(taskId)\nTANDEM_ADVERTISED_HOST=10.0.2.106\nexec: /nonexistent/tandem run\n")
    }

    /// This machine's non-loopback, non-link-local IPv4 addresses, read with getifaddrs.
    static func localIPv4Addresses() -> Set<String> {
        var head: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&head) == 0 else { return [] }
        defer { freeifaddrs(head) }
        var out: Set<String> = []
        var cursor = head
        while let entry = cursor {
            defer { cursor = entry.pointee.ifa_next }
            guard let addr = entry.pointee.ifa_addr, addr.pointee.sa_family == sa_family_t(AF_INET) else { continue }
            var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
            addr.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { sin in
                var a = sin.pointee.sin_addr
                _ = inet_ntop(AF_INET, &a, &text, socklen_t(INET_ADDRSTRLEN))
            }
            let ip = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if !ip.hasPrefix("127.") && !ip.hasPrefix("169.254.") { out.insert(ip) }
        }
        return out
    }

    @Test func entrypointFallsBackToTheFirstLocalAddressWithoutMetadata() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let fake = try DeployTests.standIn(in: dir)
        let addresses = DeployTests.localIPv4Addresses()
        try #require(!addresses.isEmpty, "this machine has no non-loopback IPv4 address to fall back to")
        var name = [CChar](repeating: 0, count: 256)
        gethostname(&name, name.count)
        let hostName = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)

        // Not on ECS: no metadata variable at all.
        let plain = try DeployTests.run("/bin/sh", [DeployTests.path("deploy/entrypoint.sh"), "run"], environment: ["TANDEM_BIN": fake])
        let v = DeployTests.values(plain.stdout)
        #expect(plain.status == 0, "\(plain.stderr)")
        #expect(v["TANDEM_ADVERTISED_HOST"].map { addresses.contains($0) } == true, "\(v) not in \(addresses)")
        #expect(v["TANDEM_NODE_ID"] == hostName)

        // The variable set but nothing answering: a warning, and the same local values.
        let dead = try DeployTests.run("/bin/sh", [DeployTests.path("deploy/entrypoint.sh"), "run"],
                                       environment: ["TANDEM_BIN": fake, "TANDEM_METADATA_TIMEOUT_SEC": "1",
                                                     "ECS_CONTAINER_METADATA_URI_V4": "http://127.0.0.1:\(freeTCPPort())/v4/abc"])
        let d = DeployTests.values(dead.stdout)
        #expect(dead.status == 0, "\(dead.stderr)")
        #expect(dead.stderr.contains("no answer from the task metadata endpoint"))
        #expect(d["TANDEM_ADVERTISED_HOST"] == v["TANDEM_ADVERTISED_HOST"] && d["TANDEM_NODE_ID"] == hostName)
    }

    @Test func entrypointCreatesTheClusterAndPersistenceDatabases() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let fake = try DeployTests.standIn(in: dir)
        let db = HAFailoverTests.Cluster.database
        let tag = UUID().uuidString.prefix(8).lowercased()
        let (clusterDb, persistenceDb) = ("deploy_cluster_\(tag)", "deploy_persist_\(tag)")
        let env = ["TANDEM_BIN": fake, "TANDEM_DB_CREATE": "1", "TANDEM_DB_HOST": db.host, "TANDEM_DB_PORT": "\(db.port)",
                   "TANDEM_DB_USER": db.user, "TANDEM_DB_PASSWORD": db.password,
                   "TANDEM_CLUSTER_DB": clusterDb, "TANDEM_PERSISTENCE_DB": persistenceDb]
        let outcome = try DeployTests.run("/bin/sh", [DeployTests.path("deploy/entrypoint.sh"), "run"], environment: env)
        defer {
            if let admin = try? MySQLConnection(MySQLEndpoint(host: db.host, port: db.port, user: db.user, password: db.password)) {
                try? admin.execute("DROP DATABASE IF EXISTS \(clusterDb)")
                try? admin.execute("DROP DATABASE IF EXISTS \(persistenceDb)")
            }
        }
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stdout.contains("args=run"), "tandem not started after creating the databases")
        for name in [clusterDb, persistenceDb] {
            #expect(throws: Never.self, "\(name) not created") {
                _ = try MySQLConnection(MySQLEndpoint(host: db.host, port: db.port, user: db.user, password: db.password, database: name))
            }
        }
        // Creating again is harmless; a name that would need quoting is refused before any SQL.
        #expect(try DeployTests.run("/bin/sh", [DeployTests.path("deploy/entrypoint.sh"), "run"], environment: env).status == 0)
        var bad = env
        bad["TANDEM_CLUSTER_DB"] = "x`; DROP DATABASE mysql; --"
        let refused = try DeployTests.run("/bin/sh", [DeployTests.path("deploy/entrypoint.sh"), "run"], environment: bad)
        #expect(refused.status == 1 && refused.stderr.contains("must be letters, digits and _"), "\(refused)")
        // An unreachable server: the entrypoint gives up after its attempts and does not start tandem.
        var unreachable = env
        unreachable["TANDEM_DB_PORT"] = "\(freeTCPPort())"
        unreachable["TANDEM_DB_CREATE_ATTEMPTS"] = "2"
        let failed = try DeployTests.run("/bin/sh", [DeployTests.path("deploy/entrypoint.sh"), "run"], environment: unreachable)
        #expect(failed.status == 1 && !failed.stdout.contains("args=") && failed.stderr.contains("could not create the databases"), "\(failed)")
    }

    /// ECS Exec's check, `docker exec <task> tandem status --config /etc/tandem/deployment.yaml`:
    /// the command starts with the task definition's and the image's environment, not the
    /// entrypoint's exports, so it finds TANDEM_NODE_ID and TANDEM_ADVERTISED_HOST in the file the
    /// entrypoint wrote (TANDEM_ENV_FILE, set by the image). The real `tandem`, the real
    /// deployment.yaml, the test MariaDB.
    @Test func statusInDockerExecReadsWhatTheEntrypointDerived() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let envFile = dir.appendingPathComponent("run/tandem/env")
        try FileManager.default.createDirectory(at: envFile.deletingLastPathComponent(), withIntermediateDirectories: true)
        let db = HAFailoverTests.Cluster.database
        let tag = UUID().uuidString.prefix(8).lowercased()
        // What `docker exec` starts with: the task definition's environment and the image's ENV.
        var exec = DeployTests.environment(try DeployTests.container(try DeployTests.taskDefinition("taskdef-fargate.json")))
        for (name, value) in ["TANDEM_DB_HOST": db.host, "TANDEM_DB_PORT": "\(db.port)", "TANDEM_DB_USER": db.user,
                              "TANDEM_DB_PASSWORD": db.password, "TANDEM_CLUSTER_DB": "exec_cluster_\(tag)",
                              "TANDEM_PERSISTENCE_DB": "exec_persist_\(tag)", "TANDEM_ENV_FILE": envFile.path] {
            exec[name] = value
        }
        #expect(exec["TANDEM_NODE_ID"] == nil && exec["TANDEM_ADVERTISED_HOST"] == nil)
        defer {
            if let admin = try? MySQLConnection(MySQLEndpoint(host: db.host, port: db.port, user: db.user, password: db.password)) {
                try? admin.execute("DROP DATABASE IF EXISTS exec_cluster_\(tag)")
                try? admin.execute("DROP DATABASE IF EXISTS exec_persist_\(tag)")
            }
        }
        var start = exec
        start["TANDEM_BIN"] = try DeployTests.standIn(in: dir)
        start["TANDEM_DB_CREATE"] = "1"
        let started = try DeployTests.run("/bin/sh", [DeployTests.path("deploy/entrypoint.sh")], environment: start)
        #expect(started.status == 0, "\(started.stderr)")
        let derived = DeployTests.values(started.stdout)
        let written = DeployTests.values(try String(contentsOf: envFile, encoding: .utf8))
        #expect(written == ["TANDEM_NODE_ID": derived["TANDEM_NODE_ID"] ?? "-", "TANDEM_ADVERTISED_HOST": derived["TANDEM_ADVERTISED_HOST"] ?? "-"])

        let config = DeployTests.path("deploy/deployment.yaml")
        let status = try DeployTests.run(NodeProcess.tandemPath, ["status", "--config", config, "--json"], environment: exec)
        #expect(status.status == 0, "\(status.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? JSON
        #expect(object?["group"] as? String == exec["TANDEM_GROUP_ID"], "\(status.stdout)")

        // Without the file, what the issue saw.
        exec["TANDEM_ENV_FILE"] = nil
        let bare = try DeployTests.run(NodeProcess.tandemPath, ["status", "--config", config], environment: exec)
        #expect(bare.status == 2 && bare.stderr.contains("environment variable TANDEM_NODE_ID is not set"), "\(bare)")
        // What a process is given wins over the file.
        let merged = DeploymentConfig.withEnvironmentFile(["TANDEM_ENV_FILE": envFile.path, "TANDEM_NODE_ID": "given"])
        #expect(merged["TANDEM_NODE_ID"] == "given" && merged["TANDEM_ADVERTISED_HOST"] == written["TANDEM_ADVERTISED_HOST"])
    }

    // MARK: - task definitions, deployment.yaml and the template agree

    typealias JSON = [String: Any]

    static func taskDefinition(_ name: String) throws -> JSON {
        let data = try Data(contentsOf: URL(fileURLWithPath: path("deploy/ecs/\(name)")))
        return try #require(try JSONSerialization.jsonObject(with: data) as? JSON)
    }

    static func container(_ taskDefinition: JSON) throws -> JSON {
        let containers = try #require(taskDefinition["containerDefinitions"] as? [JSON])
        return try #require(containers.first { $0["name"] as? String == "tandem" })
    }

    static func environment(_ container: JSON) -> [String: String] {
        var env: [String: String] = [:]
        for item in container["environment"] as? [JSON] ?? [] {
            if let name = item["name"] as? String, let value = item["value"] as? String { env[name] = value }
        }
        return env
    }

    static func ports(_ container: JSON) -> [String: Int] {
        var ports: [String: Int] = [:]
        for item in container["portMappings"] as? [JSON] ?? [] {
            if let name = item["name"] as? String, let port = item["containerPort"] as? Int { ports[name] = port }
        }
        return ports
    }

    @Test(arguments: ["taskdef-fargate.json", "taskdef-ec2.json"])
    func deploymentYamlLoadsWithTheTaskDefinitionEnvironment(_ file: String) throws {
        let container = try DeployTests.container(try DeployTests.taskDefinition(file))
        var env = DeployTests.environment(container)
        let secrets = (container["secrets"] as? [JSON] ?? []).compactMap { $0["name"] as? String }
        #expect(secrets == ["TANDEM_DB_PASSWORD", "TANDEM_ADMIN_PASSWORD"])
        for name in secrets { env[name] = "from-secrets-manager" }
        // What the entrypoint adds.
        env["TANDEM_NODE_ID"] = "cd189a933e5849daa93386466019ab50"
        env["TANDEM_ADVERTISED_HOST"] = "10.0.2.106"

        let loaded = try DeploymentConfig.load(path: DeployTests.path("deploy/deployment.yaml"), environment: env)
        #expect(loaded.warnings.isEmpty, "\(loaded.warnings)")
        let config = loaded.config
        let ports = DeployTests.ports(container)
        #expect(config.deployment.mode == .ha)
        #expect(config.nodeId == env["TANDEM_NODE_ID"])
        #expect(config.deployment.eventSyncPort == ports["event-sync"])
        #expect(config.deployment.advertisedEndpoint.host == "10.0.2.106")
        #expect(config.deployment.advertisedEndpoint.port == ports["event-sync"])
        #expect(config.deployment.eventByteBufferQueueCapacity == Int(env["TANDEM_EVENT_QUEUE_CAPACITY"] ?? ""))
        #expect(config.cluster.groupId == env["TANDEM_GROUP_ID"])
        #expect(config.cluster.heartbeatIntervalMs == Int(env["TANDEM_HEARTBEAT_INTERVAL_MS"] ?? ""))
        #expect(config.cluster.heartbeatMaxRetry == Int(env["TANDEM_HEARTBEAT_MAX_RETRY"] ?? ""))
        #expect(config.tandem.persistenceIntervalMs == Int(env["TANDEM_PERSIST_INTERVAL_MS"] ?? ""))
        let cluster = try #require(config.clusterDatasource)
        let persistence = try #require(config.persistenceDatasource)
        #expect(cluster.url.database == env["TANDEM_CLUSTER_DB"] && persistence.url.database == env["TANDEM_PERSISTENCE_DB"])
        for ds in [cluster, persistence] {
            #expect(ds.url.host == env["TANDEM_DB_HOST"] && ds.url.port == Int(env["TANDEM_DB_PORT"] ?? ""))
            #expect(ds.username == env["TANDEM_DB_USER"] && ds.password == "from-secrets-manager")
        }
        // The sample app's source port, and the REST API's, are published too.
        #expect(ports["sources"] == 9892 && ports["rest"] == 9090)

        // Every variable the task definition sets is read by deployment.yaml, the entrypoint, or the
        // node itself (the REST admin user: ApiAuth reads TANDEM_ADMIN_USER/PASSWORD).
        let yaml = try String(contentsOfFile: DeployTests.path("deploy/deployment.yaml"), encoding: .utf8)
        let entrypoint = try String(contentsOfFile: DeployTests.path("deploy/entrypoint.sh"), encoding: .utf8)
        let node = try String(contentsOfFile: DeployTests.path("Sources/ControlPlane/Api/ApiAuth.swift"), encoding: .utf8)
        for name in env.keys {
            #expect(yaml.contains("${env:\(name)") || entrypoint.contains(name) || node.contains("\"\(name)\""),
                    "\(name) is set but never read")
        }

        // Health, graceful stop, logs.
        let health = try #require(container["healthCheck"] as? JSON)
        #expect(health["command"] as? [String] == ["CMD", "tandem", "health"])
        let stopTimeout = try #require(container["stopTimeout"] as? Int)
        #expect((30...120).contains(stopTimeout), "stopTimeout \(stopTimeout) s: ECS allows at most 120")
        let log = try #require(container["logConfiguration"] as? JSON)
        #expect(log["logDriver"] as? String == "awslogs")
    }

    /// Yams node tree of the template (CloudFormation's short-form tags such as !Ref are kept as tags).
    static func template() throws -> Node {
        let text = try String(contentsOfFile: path("deploy/cloudformation.yaml"), encoding: .utf8)
        return try #require(try Yams.compose(yaml: text))
    }

    @Test func cloudFormationTaskDefinitionMatchesTheJSONTaskDefinition() throws {
        let template = try DeployTests.template()
        let json = try DeployTests.container(try DeployTests.taskDefinition("taskdef-fargate.json"))
        let props = try #require(template["Resources"]?["TaskDefinition"]?["Properties"])
        let container = try #require(props["ContainerDefinitions"]?.sequence?.first)
        #expect(template["Resources"]?["TaskDefinition"]?["Type"]?.string == "AWS::ECS::TaskDefinition")

        let names = Set((container["Environment"]?.sequence ?? []).compactMap { $0["Name"]?.string })
        #expect(names == Set(DeployTests.environment(json).keys))
        let secrets = (container["Secrets"]?.sequence ?? []).compactMap { $0["Name"]?.string }
        #expect(secrets == ["TANDEM_DB_PASSWORD", "TANDEM_ADMIN_PASSWORD"])

        var ports: [String: String] = [:]
        for mapping in container["PortMappings"]?.sequence ?? [] {
            guard let name = mapping["Name"]?.string, let port = mapping["ContainerPort"] else { continue }
            // A !Ref to a parameter stands for that parameter's default.
            if port.tag.description == "!Ref", let parameter = port.string {
                ports[name] = template["Parameters"]?[parameter]?["Default"]?.string
            } else {
                ports[name] = port.string
            }
        }
        #expect(ports == DeployTests.ports(json).mapValues { String($0) })
        #expect(container["HealthCheck"]?["Command"]?.sequence?.compactMap(\.string) == ["CMD", "tandem", "health"])
        #expect(container["StopTimeout"]?.int == json["stopTimeout"] as? Int)

        // The event-sync rule admits the nodes' own group on the same port, and only it.
        let sync = try #require(template["Resources"]?["NodeEventSyncIngress"]?["Properties"])
        #expect(sync["FromPort"]?.string == ports["event-sync"] && sync["ToPort"]?.string == ports["event-sync"])
        #expect(sync["SourceSecurityGroupId"]?.string == "NodeSecurityGroup" && sync["CidrIp"] == nil)
        let database = try #require(template["Resources"]?["Database"]?["Properties"])
        #expect(database["PubliclyAccessible"]?.bool == false)
    }

    /// The image builds without a registry: a `# syntax=` directive makes BuildKit pull its frontend
    /// image from Docker Hub first, and heredocs (`RUN <<EOF`) need such a frontend on Debian's
    /// docker.io 20.10, whose built-in one handles everything else the Dockerfile uses.
    @Test func dockerfileNeedsNoExternalFrontend() throws {
        let text = try String(contentsOfFile: DeployTests.path("deploy/Dockerfile"), encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let syntax = try Regex(#"^#\s*syntax\s*="#).ignoresCase()
        #expect(!lines.contains { $0.contains(syntax) }, "deploy/Dockerfile has a `# syntax=` directive")
        #expect(!lines.contains { !$0.hasPrefix("#") && $0.contains("<<") }, "deploy/Dockerfile uses a heredoc")
        // The cache mount is the only BuildKit feature used; it is built in.
        #expect(lines.contains { $0.hasPrefix("RUN --mount=type=cache,") })
    }

    /// EC2: the instance setup installs exactly deploy/ecs/seccomp-tandem.json, which allows io_uring,
    /// and tags instances with the attribute the EC2 task definition's placement constraint asks for.
    @Test func ec2InstanceSetupMatchesTheSeccompProfileAndPlacement() throws {
        let profileText = try String(contentsOfFile: DeployTests.path("deploy/ecs/seccomp-tandem.json"), encoding: .utf8)
        let profile = try #require(try JSONSerialization.jsonObject(with: Data(profileText.utf8)) as? JSON)
        #expect(profile["defaultAction"] as? String == "SCMP_ACT_ALLOW")
        let denied = Set((profile["syscalls"] as? [JSON] ?? []).flatMap { $0["names"] as? [String] ?? [] })
        #expect(denied.isDisjoint(with: ["io_uring_setup", "io_uring_enter", "io_uring_register", "epoll_wait", "clone3", "mmap"]))
        #expect(denied.isSuperset(of: ["bpf", "ptrace", "unshare", "setns", "mount", "kexec_load", "init_module", "userfaultfd"]))

        let setup = try String(contentsOfFile: DeployTests.path("deploy/ecs/ec2-instance-setup.sh"), encoding: .utf8)
        let start = try #require(setup.range(of: "<<'JSON'\n"))
        let end = try #require(setup.range(of: "\nJSON\n", range: start.upperBound..<setup.endIndex))
        #expect(String(setup[start.upperBound..<end.lowerBound]) + "\n" == profileText, "the embedded profile differs from seccomp-tandem.json")
        #expect(try DeployTests.run("/bin/bash", ["-n", DeployTests.path("deploy/ecs/ec2-instance-setup.sh")]).status == 0)

        let constraints = try #require(try DeployTests.taskDefinition("taskdef-ec2.json")["placementConstraints"] as? [JSON])
        #expect(constraints.first?["expression"] as? String == "attribute:tandem.seccomp == io_uring")
        #expect(setup.contains(#"ECS_INSTANCE_ATTRIBUTES={"tandem.seccomp":"io_uring"}"#))
    }

    // MARK: - the tools: cfn-lint and moto's ECS emulator

    @Test func cloudFormationTemplatePassesCfnLint() throws {
        let lint = try DeployTests.run(try DeployTests.tool("cfn-lint"), [DeployTests.path("deploy/cloudformation.yaml")], timeoutSec: 300)
        // cfn-lint's exit code is a bit mask: 2 errors, 4 warnings, 8 informational.
        #expect(lint.status & 2 == 0, "cfn-lint errors:\n\(lint.stdout)\(lint.stderr)")
        #expect(lint.status == 0, "cfn-lint warnings:\n\(lint.stdout)")
    }

    @Test func taskDefinitionsRegisterWithTheEcsEmulator() throws {
        let moto = try ServerProcess(executable: try DeployTests.tool("moto_server"), arguments: { ["-H", "127.0.0.1", "-p", "\($0)"] })
        defer { moto.stop() }
        #expect(moto.waitUntilListening(), "moto_server did not start")
        let aws = try DeployTests.tool("aws")
        let env = ["AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
                   "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_PAGER": ""]
        func ecs(_ arguments: [String]) throws -> Outcome {
            try DeployTests.run(aws, ["--endpoint-url", "http://127.0.0.1:\(moto.port)", "--output", "json", "ecs"] + arguments,
                                environment: env)
        }
        for (file, family) in [("taskdef-fargate.json", "tandem"), ("taskdef-ec2.json", "tandem-ec2")] {
            let registered = try ecs(["register-task-definition", "--cli-input-json", "file://" + DeployTests.path("deploy/ecs/\(file)")])
            #expect(registered.status == 0, "\(file): \(registered.stderr)")
            let described = try ecs(["describe-task-definition", "--task-definition", family])
            #expect(described.status == 0, "\(described.stderr)")
            let object = try JSONSerialization.jsonObject(with: Data(described.stdout.utf8)) as? JSON
            let stored = try #require(object?["taskDefinition"] as? JSON)
            let container = try DeployTests.container(stored)
            #expect(stored["networkMode"] as? String == "awsvpc")
            #expect(container["stopTimeout"] as? Int == 120)
            #expect(DeployTests.ports(container)["event-sync"] == 9893)
        }
        // The same path refuses a broken definition (a misspelt key), so the two passes above mean something.
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var broken = try DeployTests.taskDefinition("taskdef-fargate.json")
        broken["stopTimeoutSeconds"] = 120
        let brokenURL = dir.appendingPathComponent("broken.json")
        try JSONSerialization.data(withJSONObject: broken).write(to: brokenURL)
        let refused = try ecs(["register-task-definition", "--cli-input-json", "file://" + brokenURL.path])
        #expect(refused.status != 0 && refused.stderr.contains("stopTimeoutSeconds"), "\(refused)")
    }
}
