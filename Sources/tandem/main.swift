import CShims
import Foundation
if let v = tandem_jemalloc_version() { print("jemalloc", String(cString: v)) } else { print("no jemalloc") }
var buf = [CChar](repeating: 0, count: 64)
tandem_liburing_version(&buf, 64)
print("liburing", String(cString: buf))
print("mysql", String(cString: mysql_get_client_info()))
print("probe", tandem_io_uring_probe())
