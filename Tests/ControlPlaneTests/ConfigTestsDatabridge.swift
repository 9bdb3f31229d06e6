@testable import ControlPlane
import Testing

/// SI's `databridge.config` and Tandem's `tandem.databridge`.
@Suite struct ConfigTestsDatabridge {
    /// SI 4.x's shipped section, as it is.
    static let si = """
        databridge.config:
          workerThreads: 10
          maxEventBufferCapacity: 10000000
          eventBufferSize: 2000
          keyStoreLocation : ${sys:carbon.home}/resources/security/wso2carbon.jks
          keyStorePassword : wso2carbon
          clientTimeoutMin: 30
          dataReceivers:
          -
            dataReceiver:
              type: Thrift
              properties:
                tcpPort: '7612'
                sslPort: '7712'
          -
            dataReceiver:
              type: Binary
              properties:
                tcpPort: '9612'
                sslPort: '9712'
                tcpReceiverThreadPoolSize: 100
                sslReceiverThreadPoolSize: 100
                hostName: 127.0.0.1
        """

    @Test func defaultsAreSIPorts() throws {
        let r = try DeploymentConfig.parse(yaml: "", source: "t").config.databridge.receiver
        #expect((r.thriftPort, r.thriftTLSPort, r.binaryPort, r.binaryTLSPort) == (7611, 7711, 9611, 9711))
        #expect(!r.allowPlainTextCredentials && !r.tls && r.sessionTimeoutMs == 30 * 60_000)
    }

    @Test func siSectionGivesPortsAndWarnsAboutKeystores() throws {
        let loaded = try DeploymentConfig.parse(yaml: Self.si, source: "t")
        let r = loaded.config.databridge.receiver
        #expect((r.thriftPort, r.thriftTLSPort, r.binaryPort, r.binaryTLSPort) == (7612, 7712, 9612, 9712))
        #expect(r.host == "127.0.0.1")
        #expect(loaded.warnings.contains { $0.contains("keyStoreLocation") && $0.contains("tandem.databridge.tls") }, "\(loaded.warnings)")
        #expect(loaded.warnings.contains { $0.contains("workerThreads") })
    }

    @Test func tandemKeysWinWhereverTheyAre() throws {
        let tandem = """
            tandem:
              databridge:
                binaryPort: 19611
                thriftTLSPort: 0
                allowPlainTextCredentials: true
                tls:
                  certificateFile: /c.pem
                  keyFile: /k.pem
            """
        for yaml in [Self.si + "\n" + tandem, tandem + "\n" + Self.si] {
            let loaded = try DeploymentConfig.parse(yaml: yaml, source: "t")
            let r = loaded.config.databridge.receiver
            #expect(r.binaryPort == 19611 && r.thriftTLSPort == nil && r.thriftPort == 7612 && r.binaryTLSPort == 9712)
            #expect(r.tls && r.allowPlainTextCredentials)
            #expect(loaded.warnings.contains { $0.contains("allowPlainTextCredentials") && $0.contains("unencrypted") })
        }
    }

    @Test func halfATLSPairAndAReceiverWithoutTypeAreErrors() {
        #expect(throws: ConfigError.self) {
            try DeploymentConfig.parse(yaml: "tandem:\n  databridge:\n    tls:\n      keyFile: /k.pem\n", source: "t")
        }
        #expect(throws: ConfigError.self) {
            try DeploymentConfig.parse(yaml: "databridge.config:\n  dataReceivers:\n  - dataReceiver:\n      properties:\n        tcpPort: '1'\n", source: "t")
        }
    }
}
