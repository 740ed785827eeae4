#include "proxy/http/http_proxy.h"

#include "gtest/gtest.h"

namespace tollgate {
namespace {

TEST(FormatAccessLogLineTest, PrintsEveryFieldWithMillisecondsToThreeDecimals) {
  AccessLogEntry e;
  e.start_unix_ms = 1795765388004;
  e.client = "127.0.0.1";
  e.method = "GET";
  e.url = "https://localhost:8443/";
  e.status = 200;
  e.bytes_in = 78;
  e.bytes_out = 693;
  e.origin = "127.0.0.1:37145";
  e.duration_us = 611;
  e.tls_version = "TLSv1.3";
  e.cipher = "TLS_AES_128_GCM_SHA256";
  e.sni = "localhost";
  e.resumed = true;
  EXPECT_EQ(FormatAccessLogLine(e),
            "1795765388.004 127.0.0.1 GET https://localhost:8443/ 200 78 693 127.0.0.1:37145 0.611 "
            "TLSv1.3 TLS_AES_128_GCM_SHA256 localhost 1");
}

TEST(FormatAccessLogLineTest, EmptyFieldsAreDashesAndLongDurationsKeepTheirFraction) {
  AccessLogEntry e;
  e.start_unix_ms = 1000;
  e.duration_us = 12345678;
  EXPECT_EQ(FormatAccessLogLine(e), "1.000 - - - 0 0 0 - 12345.678 - - - 0");
}

}  // namespace
}  // namespace tollgate
