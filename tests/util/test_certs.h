// Certificates for tests: the production generator (iocore/tls/cert_gen.h) under the names the
// tests use.

#ifndef TOLLGATE_TESTS_UTIL_TEST_CERTS_H_
#define TOLLGATE_TESTS_UTIL_TEST_CERTS_H_

#include "iocore/tls/cert_gen.h"

namespace tollgate::test_util {

using ::tollgate::CertOptions;
using ::tollgate::GenerateKey;
using ::tollgate::KeyType;
using ::tollgate::MakeCert;
using TestCert = ::tollgate::GeneratedCert;

}  // namespace tollgate::test_util

#endif  // TOLLGATE_TESTS_UTIL_TEST_CERTS_H_
