// WSO2's databridge Thrift interface (carbon-analytics-common, databridge commons thrift:
// Data.thrift, Exception.thrift, ThriftEventTransmissionService.thrift and
// ThriftSecureEventTransmissionService.thrift), restated in one file for the test clients. The
// field ids, types and method names are the wire contract; names of types only matter to code.

enum ThriftAttributeType { INT, LONG, FLOAT, DOUBLE, BOOL, STRING }

struct ThriftAttribute {
    1: optional string name;
    2: optional ThriftAttributeType attributeType;
}

struct ThriftEventBundle {
    1: optional string sessionId;
    2: optional i32 eventNum;
    3: optional list<i32> intAttributeList;
    4: optional list<i64> longAttributeList;
    5: optional list<double> doubleAttributeList;
    6: optional list<bool> boolAttributeList;
    7: optional list<string> stringAttributeList;
    8: optional map<i32, map<string, string>> arbitraryDataMapMap;
}

exception ThriftStreamDefinitionException { 1: required string message }
exception ThriftNoStreamDefinitionExistException { 1: required string message }
exception ThriftDifferentStreamDefinitionAlreadyDefinedException { 1: required string message }
exception ThriftMalformedStreamDefinitionException { 1: required string message }
exception ThriftUndefinedEventTypeException { 1: required string message }
exception ThriftSessionExpiredException { 1: required string message }
exception ThriftAuthenticationException { 1: required string message }

// The plain port (7611): publishing with a session obtained on the secure service.
service ThriftEventTransmissionService {
    string defineStream(1: string sessionId, 2: string streamDefinition)
        throws (1: ThriftDifferentStreamDefinitionAlreadyDefinedException ade, 2: ThriftMalformedStreamDefinitionException mtd,
                3: ThriftStreamDefinitionException tde, 4: ThriftSessionExpiredException se),
    string findStreamId(1: string sessionId, 2: string streamName, 3: string streamVersion)
        throws (1: ThriftNoStreamDefinitionExistException tnde, 2: ThriftSessionExpiredException se),
    void publish(1: ThriftEventBundle eventBundle)
        throws (1: ThriftUndefinedEventTypeException ue, 2: ThriftSessionExpiredException se),
    bool deleteStreamById(1: string sessionId, 2: string streamId) throws (1: ThriftSessionExpiredException se),
    bool deleteStreamByNameVersion(1: string sessionId, 2: string streamName, 3: string streamVersion)
        throws (1: ThriftSessionExpiredException se)
}

// The TLS port (7711): the same calls plus connect (login) and disconnect.
service ThriftSecureEventTransmissionService {
    string connect(1: string userName, 2: string password) throws (1: ThriftAuthenticationException ae),
    void disconnect(1: string sessionId),
    string defineStream(1: string sessionId, 2: string streamDefinition)
        throws (1: ThriftDifferentStreamDefinitionAlreadyDefinedException ade, 2: ThriftMalformedStreamDefinitionException mtd,
                3: ThriftStreamDefinitionException tde, 4: ThriftSessionExpiredException se),
    string findStreamId(1: string sessionId, 2: string streamName, 3: string streamVersion)
        throws (1: ThriftNoStreamDefinitionExistException tnde, 2: ThriftSessionExpiredException se),
    void publish(1: ThriftEventBundle eventBundle)
        throws (1: ThriftUndefinedEventTypeException ue, 2: ThriftSessionExpiredException se),
    bool deleteStreamById(1: string sessionId, 2: string streamId) throws (1: ThriftSessionExpiredException se),
    bool deleteStreamByNameVersion(1: string sessionId, 2: string streamName, 3: string streamVersion)
        throws (1: ThriftSessionExpiredException se)
}
