// Tests of ucr::http::Server over a real socket: a server on 127.0.0.1:0 in a background thread over a
// temporary SQLite store, and a small synchronous Beast client.
#include "http/server.hpp"
#include "api/api.hpp"
#include "store/sqlite/sqlite_store.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <optional>
#include <random>
#include <regex>
#include <string>
#include <thread>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace fs = std::filesystem;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

using Response = bhttp::response<bhttp::string_body>;

fs::path make_temp_dir() {
  std::random_device rd;
  auto dir = fs::temp_directory_path() / ("ucr-http-test-" + std::to_string(rd()) + std::to_string(rd()));
  fs::create_directories(dir);
  return dir;
}

std::string patient_json(const std::string& family = "Smith") {
  return R"({"resourceType":"Patient","name":[{"family":")" + family + R"(","given":["Ann"]}],"gender":"female"})";
}

/// A server over a fresh store, running in a background thread until stop() or destruction.
class TestServer {
 public:
  explicit TestServer(ucr::http::ServerOptions options = {}) : dir_(make_temp_dir()) {
    auto opened = ucr::store::open_sqlite_store(ucr::store::SqliteOptions{dir_ / "data"});
    if (!opened) throw std::runtime_error("cannot open store: " + opened.error().message());
    store_ = std::move(*opened);
    api_ =
        std::make_unique<ucr::api::Api>(*store_, ucr::api::ApiOptions{.export_directory = (dir_ / "exports").string()});
    options.host = "127.0.0.1";
    options.port = 0;
    options.handle_signals = false;
    if (options.io_threads == 0) options.io_threads = 2;
    options.worker_threads = 4;
    server_ = std::make_unique<ucr::http::Server>(options, *api_, *store_);
    if (auto r = server_->start(); !r) throw std::runtime_error("cannot start server: " + r.error().message());
    port_ = server_->port();
    thread_ = std::thread([this] {
      server_->run();
      returned_ = true;
    });
  }
  ~TestServer() {
    stop();
    server_.reset();
    api_.reset();
    store_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  /// Stops the server and waits for run() to return.
  void stop() {
    if (!thread_.joinable()) return;
    server_->stop();
    thread_.join();
  }

  [[nodiscard]] std::uint16_t port() const { return port_; }
  [[nodiscard]] ucr::store::Store& store() { return *store_; }
  [[nodiscard]] const fs::path& dir() const { return dir_; }
  [[nodiscard]] ucr::api::Api& api() { return *api_; }
  [[nodiscard]] bool returned() const { return returned_; }

 private:
  fs::path dir_;
  std::unique_ptr<ucr::store::Store> store_;
  std::unique_ptr<ucr::api::Api> api_;
  std::unique_ptr<ucr::http::Server> server_;
  std::uint16_t port_ = 0;
  std::thread thread_;
  std::atomic<bool> returned_{false};
};

/// A synchronous HTTP/1.1 client connection.
class Client {
 public:
  explicit Client(std::uint16_t port) : stream_(io_) {
    stream_.expires_after(30s);
    stream_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    // Beast's expiry only applies to asynchronous operations; bound the blocking reads and
    // writes here too, so a server that never answers fails the test instead of hanging it.
    timeval tv{};
    tv.tv_sec = 60;
    ::setsockopt(stream_.socket().native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ::setsockopt(stream_.socket().native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  }

  Response request(bhttp::verb method, const std::string& target, const std::string& body = "",
                   const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    bhttp::request<bhttp::string_body> req{method, target, 11};
    req.set(bhttp::field::host, "127.0.0.1");
    if (!body.empty()) req.set(bhttp::field::content_type, "application/fhir+json");
    for (const auto& [n, v] : headers) req.set(n, v);
    req.body() = body;
    req.prepare_payload();
    stream_.expires_after(60s);
    bhttp::write(stream_, req);
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(256U << 20U);
    if (method == bhttp::verb::head) parser.skip(true);
    bhttp::read(stream_, buffer_, parser);
    return parser.release();
  }

  /// Sends raw bytes.
  void send(const std::string& raw) {
    stream_.expires_after(30s);
    asio::write(stream_, asio::buffer(raw));
  }

  /// Reads until the server closes the connection (or `limit` passes); returns everything read.
  std::string read_to_close(std::chrono::seconds limit, beast::error_code& ec) {
    std::string out(static_cast<const char*>(buffer_.data().data()), buffer_.size());
    buffer_.consume(buffer_.size());
    stream_.expires_after(limit);
    std::array<char, 4096> chunk{};
    for (;;) {
      const auto n = stream_.read_some(asio::buffer(chunk), ec);
      out.append(chunk.data(), n);
      if (ec) break;
    }
    return out;
  }

  /// Reads one response after raw bytes were sent.
  Response read_response() {
    stream_.expires_after(30s);
    Response res;
    bhttp::read(stream_, buffer_, res);
    return res;
  }

 private:
  asio::io_context io_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
};

std::string id_from_location(const Response& res) {
  // Location: <base>/Patient/<id>/_history/<v>
  static const std::regex re(R"(/Patient/([A-Za-z0-9\-\.]+)/_history/)");
  std::smatch m;
  const std::string loc(res[bhttp::field::location]);
  if (!std::regex_search(loc, m, re)) return {};
  return m[1];
}

std::string fmt_uuid_tail(int i) {
  std::array<char, 16> buf{};
  std::snprintf(buf.data(), buf.size(), "%012d", i);
  return buf.data();
}

std::string fmt_hex(std::size_t n) {
  std::array<char, 32> buf{};
  std::snprintf(buf.data(), buf.size(), "%zx", n);
  return buf.data();
}

std::string make_transaction(int patients) {
  std::string b = R"({"resourceType":"Bundle","type":"transaction","entry":[)";
  for (int i = 0; i < patients; ++i) {
    if (i > 0) b += ",";
    b += R"({"fullUrl":"urn:uuid:00000000-0000-4000-8000-)" + fmt_uuid_tail(i) + R"(","resource":)" +
         patient_json("Family" + std::to_string(i)) + R"(,"request":{"method":"POST","url":"Patient"}})";
  }
  b += "]}";
  return b;
}

/// Writes a fresh self-signed EC P-256 certificate and key for 127.0.0.1 as PEM files.
bool write_self_signed(const fs::path& cert_file, const fs::path& key_file, std::string& why) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  if (key == nullptr) {
    why = "EVP_EC_gen failed";
    return false;
  }
  X509* cert = X509_new();
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("127.0.0.1"), -1, -1, 0);
  X509_set_issuer_name(cert, name);
  bool ok = X509_sign(cert, key, EVP_sha256()) > 0;
  if (ok) {
    FILE* c = std::fopen(cert_file.c_str(), "w");
    FILE* k = std::fopen(key_file.c_str(), "w");
    ok = c != nullptr && k != nullptr && PEM_write_X509(c, cert) == 1 &&
         PEM_write_PrivateKey(k, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
    if (c != nullptr) std::fclose(c);
    if (k != nullptr) std::fclose(k);
  }
  if (!ok) why = "could not sign or write the certificate";
  X509_free(cert);
  EVP_PKEY_free(key);
  return ok;
}

/// The value of an unlabelled Prometheus sample, or -1.
double sample(const std::string& text, const std::string& name) {
  const auto at = text.find("\n" + name + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + name.size() + 2));
}

}  // namespace

TEST(HttpServer, KeepAliveServesSeveralRequestsOnOneConnection) {
  TestServer server;
  Client c(server.port());
  auto h = c.request(bhttp::verb::get, "/healthz");
  EXPECT_EQ(h.result_int(), 200);
  EXPECT_TRUE(h.keep_alive());
  auto created = c.request(bhttp::verb::post, "/fhir/Patient", patient_json());
  ASSERT_EQ(created.result_int(), 201) << created.body();
  EXPECT_TRUE(created.keep_alive());
  const auto id = id_from_location(created);
  ASSERT_FALSE(id.empty()) << created[bhttp::field::location];
  for (int i = 0; i < 5; ++i) {
    auto read = c.request(bhttp::verb::get, "/fhir/Patient/" + id);
    ASSERT_EQ(read.result_int(), 200) << read.body();
    EXPECT_NE(read.body().find("\"Smith\""), std::string::npos);
    EXPECT_TRUE(read.keep_alive());
  }
  auto updated =
      c.request(bhttp::verb::put, "/fhir/Patient/" + id,
                R"({"resourceType":"Patient","id":")" + id + R"(","gender":"male"})", {{"If-Match", "W/\"1\""}});
  EXPECT_EQ(updated.result_int(), 200) << updated.body();
  auto meta = c.request(bhttp::verb::get, "/fhir/metadata");
  EXPECT_EQ(meta.result_int(), 200);
  EXPECT_NE(meta.body().find("CapabilityStatement"), std::string::npos);
  auto missing = c.request(bhttp::verb::get, "/fhir/Patient/does-not-exist");
  EXPECT_EQ(missing.result_int(), 404);
  EXPECT_TRUE(missing.keep_alive());
}

TEST(HttpServer, HealthzAnswersOk) {
  TestServer server;
  Client c(server.port());
  auto res = c.request(bhttp::verb::get, "/healthz");
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(res.body(), "ok\n");
  EXPECT_NE(std::string(res[bhttp::field::content_type]).find("text/plain"), std::string::npos);
}

TEST(HttpServer, MetricsArePrometheusTextWithHttpAndStoreMetrics) {
  TestServer server;
  Client c(server.port());
  auto created = c.request(bhttp::verb::post, "/fhir/Patient", patient_json());
  ASSERT_EQ(created.result_int(), 201);
  auto read = c.request(bhttp::verb::get, "/fhir/Patient/" + id_from_location(created));
  ASSERT_EQ(read.result_int(), 200);
  auto res = c.request(bhttp::verb::get, "/metrics");
  ASSERT_EQ(res.result_int(), 200);
  EXPECT_NE(std::string(res[bhttp::field::content_type]).find("text/plain; version=0.0.4"), std::string::npos);
  const auto& m = res.body();
  EXPECT_NE(m.find("# TYPE ucr_http_request_duration_seconds histogram"), std::string::npos) << m;
  EXPECT_NE(m.find(R"(ucr_http_request_duration_seconds_count{interaction="create"} 1)"), std::string::npos) << m;
  EXPECT_NE(m.find(R"(ucr_http_request_duration_seconds_count{interaction="read"} 1)"), std::string::npos) << m;
  EXPECT_NE(m.find(R"(ucr_http_responses_total{class="2xx"} 2)"), std::string::npos) << m;
  EXPECT_NE(m.find("ucr_http_in_flight_requests 1"), std::string::npos) << m;  // this very request
  EXPECT_NE(m.find("# TYPE ucr_store_commit_seconds histogram"), std::string::npos) << m;
  EXPECT_NE(m.find(R"(ucr_store_write_jobs_total{backend="sqlite"} 1)"), std::string::npos) << m;
  EXPECT_NE(m.find(R"(ucr_store_commits_total{backend="sqlite"} 1)"), std::string::npos) << m;
}

TEST(HttpServer, BodyOverTheLimitIs413AndNothingIsStored) {
  ucr::http::ServerOptions o;
  o.max_body_bytes = 1024;
  TestServer server(o);
  {
    Client c(server.port());
    auto res = c.request(bhttp::verb::post, "/fhir/Patient", patient_json(std::string(4000, 'x')));
    EXPECT_EQ(res.result_int(), 413) << res.body();
    EXPECT_FALSE(res.keep_alive());
    EXPECT_NE(res.body().find("OperationOutcome"), std::string::npos);
  }
  {
    // The same without Content-Length: a chunked body that grows past the limit.
    Client c(server.port());
    std::string raw =
        "POST /fhir/Patient HTTP/1.1\r\nHost: x\r\nContent-Type: application/fhir+json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n";
    const auto body = patient_json(std::string(4000, 'y'));
    raw += fmt_hex(body.size()) + "\r\n" + body + "\r\n0\r\n\r\n";
    c.send(raw);
    auto res = c.read_response();
    EXPECT_EQ(res.result_int(), 413) << res.body();
  }
  {
    // A large upload: the client is still sending when the server answers, and must still get the 413
    // (the server drains the rest rather than resetting the connection).
    Client c(server.port());
    Response res;
    EXPECT_NO_THROW(res = c.request(bhttp::verb::post, "/fhir/Patient", patient_json(std::string(8U << 20U, 'z'))));
    EXPECT_EQ(res.result_int(), 413);
  }
  {
    Client c(server.port());  // a body within the limit is still accepted
    EXPECT_EQ(c.request(bhttp::verb::post, "/fhir/Patient", patient_json()).result_int(), 201);
  }
  auto ids = server.store().find_ids("Patient", {}, 10);
  ASSERT_TRUE(ids);
  EXPECT_EQ(ids->size(), 1U);
}

TEST(HttpServer, HugeHeadersAre431) {
  ucr::http::ServerOptions o;
  o.max_header_bytes = 8U << 10U;
  TestServer server(o);
  Client c(server.port());
  auto res = c.request(bhttp::verb::get, "/healthz", "", {{"X-Padding", std::string(20000, 'a')}});
  EXPECT_EQ(res.result_int(), 431);
  EXPECT_FALSE(res.keep_alive());
}

TEST(HttpServer, GarbageRequestLineIs400) {
  TestServer server;
  for (const char* raw : {"GARBAGE\r\n\r\n", "GET /healthz HTTP/9.9\r\n\r\n", "G\x01T / HTTP/1.1\r\nHost: x\r\n\r\n",
                          "GET /fhir/Patient HTTP/1.1\r\nHost x\r\n\r\n"}) {
    Client c(server.port());
    c.send(raw);
    beast::error_code ec;
    const auto got = c.read_to_close(10s, ec);
    EXPECT_EQ(got.rfind("HTTP/1.1 400 ", 0), 0U) << "for " << raw << " got: " << got;
    EXPECT_NE(ec, beast::error::timeout) << "the server should close the connection";
  }
  Client c(server.port());  // the server is still healthy
  EXPECT_EQ(c.request(bhttp::verb::get, "/healthz").result_int(), 200);
}

TEST(HttpServer, SlowClientIsDisconnectedAfterTheHeaderTimeout) {
  ucr::http::ServerOptions o;
  o.header_timeout = 1s;
  TestServer server(o);
  Client c(server.port());
  const auto start = std::chrono::steady_clock::now();
  c.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n");  // half a header, never finished
  beast::error_code ec;
  const auto got = c.read_to_close(10s, ec);
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_NE(ec, beast::error::timeout) << "the server did not close the connection within 10 s";
  EXPECT_TRUE(got.empty()) << got;
  EXPECT_GE(waited, 900ms);
  EXPECT_LT(waited, 5s);
  // An idle keep-alive connection is closed after the same timeout.
  Client idle(server.port());
  EXPECT_EQ(idle.request(bhttp::verb::get, "/healthz").result_int(), 200);
  const auto idle_got = idle.read_to_close(10s, ec);
  EXPECT_NE(ec, beast::error::timeout);
  EXPECT_TRUE(idle_got.empty());
}

TEST(HttpServer, GracefulStopFinishesTheInFlightRequest) {
  TestServer server;
  const auto bundle = make_transaction(8000);
  const auto port = server.port();
  auto in_flight = std::async(std::launch::async, [port, &bundle] {
    Client c(port);
    return c.request(bhttp::verb::post, "/fhir", bundle);
  });
  // Wait until the transaction is being handled: /metrics counts itself plus the transaction. A
  // previous probe can still be counted for a moment after its response arrives, so ask for three
  // sightings in a row.
  bool seen = false;
  int in_a_row = 0;
  for (int i = 0; i < 20000 && !seen; ++i) {
    Client m(port);
    const auto body = m.request(bhttp::verb::get, "/metrics").body();
    in_a_row = sample(body, "ucr_http_in_flight_requests") >= 2 ? in_a_row + 1 : 0;
    seen = in_a_row >= 3;
    if (in_flight.wait_for(0s) == std::future_status::ready) break;
  }
  ASSERT_TRUE(seen) << "the transaction finished before it was seen in flight; make it bigger";
  server.stop();  // returns only after run() returned
  EXPECT_TRUE(server.returned());
  ASSERT_EQ(in_flight.wait_for(30s), std::future_status::ready);
  auto res = in_flight.get();
  EXPECT_EQ(res.result_int(), 200) << res.body().substr(0, 500);
  EXPECT_NE(res.body().find("transaction-response"), std::string::npos);
  auto ids = server.store().find_ids("Patient", {}, 10000);
  ASSERT_TRUE(ids);
  EXPECT_EQ(ids->size(), 8000U);
  // No new connections once stopped.
  EXPECT_THROW(Client late(port), boost::system::system_error);
}

TEST(HttpServer, StopWithIdleConnectionsReturns) {
  TestServer server;
  Client a(server.port());
  Client b(server.port());
  EXPECT_EQ(a.request(bhttp::verb::get, "/healthz").result_int(), 200);
  b.send("GET /heal");
  const auto start = std::chrono::steady_clock::now();
  server.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

TEST(HttpServer, HeadHasNoBody) {
  TestServer server;
  Client c(server.port());
  auto created = c.request(bhttp::verb::post, "/fhir/Patient", patient_json());
  ASSERT_EQ(created.result_int(), 201);
  const auto id = id_from_location(created);
  const auto get_len = c.request(bhttp::verb::get, "/fhir/Patient/" + id).body().size();
  for (const std::string& target : {"/fhir/Patient/" + id, std::string("/healthz"), std::string("/metrics"),
                                    std::string("/fhir/metadata"), std::string("/fhir/Patient/nope")}) {
    Client raw(server.port());
    raw.send("HEAD " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    beast::error_code ec;
    const auto got = raw.read_to_close(10s, ec);
    const auto end = got.find("\r\n\r\n");
    ASSERT_NE(end, std::string::npos) << target << ": " << got;
    EXPECT_EQ(end + 4, got.size()) << target << ": HEAD response carries a body: " << got;
  }
  // A HEAD on a keep-alive connection leaves the connection usable, and reports the GET length.
  auto head = c.request(bhttp::verb::head, "/fhir/Patient/" + id);
  EXPECT_EQ(head.result_int(), 200);
  EXPECT_TRUE(head.body().empty());
  EXPECT_EQ(std::string(head[bhttp::field::content_length]), std::to_string(get_len));
  EXPECT_EQ(std::string(head[bhttp::field::etag]), "W/\"1\"");
  auto h2 = c.request(bhttp::verb::head, "/healthz");
  EXPECT_EQ(std::string(h2[bhttp::field::content_length]), "3");
  EXPECT_EQ(c.request(bhttp::verb::get, "/healthz").body(), "ok\n");
}

TEST(HttpServer, BulkExportKickOffStatusDownloadAndCancel) {
  TestServer server;
  Client c(server.port());
  ASSERT_EQ(c.request(bhttp::verb::post, "/fhir/Patient", patient_json()).result_int(), 201);
  const std::vector<std::pair<std::string, std::string>> async{{"Prefer", "respond-async"}};
  auto kick = c.request(bhttp::verb::get, "/fhir/$export?_type=Patient", "", async);
  ASSERT_EQ(kick.result_int(), 202) << kick.body();
  const std::string status_url(kick[bhttp::field::content_location]);
  const auto path = status_url.substr(status_url.find("/fhir/"));
  server.api().wait_for_exports();
  auto done = c.request(bhttp::verb::get, path);
  ASSERT_EQ(done.result_int(), 200) << done.body();
  const std::regex file_url(R"re("url":"http://[^/"]+(/fhir/\$export-file/[^"]+)")re");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(done.body(), m, file_url)) << done.body();
  auto file = c.request(bhttp::verb::get, m[1].str());
  EXPECT_EQ(file.result_int(), 200);
  EXPECT_EQ(std::string(file[bhttp::field::content_type]), "application/fhir+ndjson");
  EXPECT_NE(file.body().find("\"resourceType\":\"Patient\""), std::string::npos);
  EXPECT_EQ(c.request(bhttp::verb::delete_, path).result_int(), 202);
  EXPECT_EQ(c.request(bhttp::verb::get, path).result_int(), 404);
}

TEST(HttpServer, ServesHttpsWithTls) {
  const auto dir = make_temp_dir();
  std::string why;
  if (!write_self_signed(dir / "cert.pem", dir / "key.pem", why)) {
    fs::remove_all(dir);
    GTEST_SKIP() << "cannot make a test certificate: " << why;
  }
  ucr::http::ServerOptions o;
  o.tls_cert = (dir / "cert.pem").string();
  o.tls_key = (dir / "key.pem").string();
  TestServer server(o);

  asio::io_context io;
  asio::ssl::context ctx(asio::ssl::context::tls_client);
  ctx.set_verify_mode(asio::ssl::verify_peer);
  ctx.load_verify_file(o.tls_cert);  // trust exactly the test certificate
  beast::ssl_stream<beast::tcp_stream> stream(io, ctx);
  beast::get_lowest_layer(stream).expires_after(30s);
  beast::get_lowest_layer(stream).connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server.port()));
  stream.handshake(asio::ssl::stream_base::client);
  beast::flat_buffer buffer;
  for (const char* target : {"/healthz", "/fhir/metadata"}) {
    bhttp::request<bhttp::string_body> req{bhttp::verb::get, target, 11};
    req.set(bhttp::field::host, "127.0.0.1");
    bhttp::write(stream, req);
    Response res;
    bhttp::read(stream, buffer, res);
    EXPECT_EQ(res.result_int(), 200) << target;
    if (std::string(target) == "/healthz") {
      EXPECT_EQ(res.body(), "ok\n");
    } else {
      EXPECT_NE(res.body().find("https://127.0.0.1"), std::string::npos);
    }
  }
  // Plain HTTP to the TLS port does not get an answer.
  Client plain(server.port());
  plain.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  beast::error_code ec;
  const auto got = plain.read_to_close(10s, ec);
  EXPECT_EQ(got.find("ok\n"), std::string::npos);
  server.stop();
  fs::remove_all(dir);
}

TEST(HttpServer, BadTlsFilesAreAnErrorFromStart) {
  const auto dir = make_temp_dir();
  auto opened = ucr::store::open_sqlite_store(ucr::store::SqliteOptions{dir / "data"});
  ASSERT_TRUE(opened);
  ucr::api::Api api(**opened, ucr::api::ApiOptions{});
  ucr::http::ServerOptions o;
  o.port = 0;
  o.handle_signals = false;
  o.tls_cert = "/nonexistent/cert.pem";
  o.tls_key = "/nonexistent/key.pem";
  ucr::http::Server server(o, api, **opened);
  EXPECT_FALSE(server.start());
  std::error_code ec;
  fs::remove_all(dir, ec);
}

namespace {

TEST(HttpServer, WebAppIsServedUnderAppWithRoutesAnsweredByIndexAndNoTraversal) {
  const fs::path web = make_temp_dir();
  fs::create_directories(web / "dist" / "assets");
  std::ofstream(web / "dist" / "index.html") << "<!DOCTYPE html><title>ucr app</title>";
  std::ofstream(web / "dist" / "assets" / "index-abc.js") << "export{}";
  std::ofstream(web / "secret.txt") << "SECRET";
  ucr::http::ServerOptions options;
  options.web_root = web / "dist";
  {
    TestServer server(options);
    Client c(server.port());
    auto app = c.request(bhttp::verb::get, "/app/");
    EXPECT_EQ(app.result_int(), 200);
    EXPECT_EQ(app[bhttp::field::content_type], "text/html; charset=utf-8");
    EXPECT_EQ(app.body(), "<!DOCTYPE html><title>ucr app</title>");
    EXPECT_EQ(app[bhttp::field::cache_control], "no-cache");
    auto route = c.request(bhttp::verb::get, "/app/patient/123?tab=summary");
    EXPECT_EQ(route.result_int(), 200);
    EXPECT_EQ(route.body(), "<!DOCTYPE html><title>ucr app</title>");
    auto js = c.request(bhttp::verb::get, "/app/assets/index-abc.js");
    EXPECT_EQ(js.result_int(), 200);
    EXPECT_EQ(js[bhttp::field::content_type], "text/javascript; charset=utf-8");
    EXPECT_EQ(js[bhttp::field::cache_control], "public, max-age=31536000, immutable");
    EXPECT_EQ(c.request(bhttp::verb::get, "/app/assets/missing.js").result_int(), 404);
    auto bare = c.request(bhttp::verb::get, "/app");
    EXPECT_EQ(bare.result_int(), 302);
    EXPECT_EQ(bare[bhttp::field::location], "/app/");
    EXPECT_EQ(c.request(bhttp::verb::get, "/").result_int(), 302);
    EXPECT_EQ(c.request(bhttp::verb::post, "/app/", "x").result_int(), 405);
    for (const char* target : {"/app/../secret.txt", "/app/%2e%2e/secret.txt", "/app/assets/..%2f..%2fsecret.txt",
                               "/app/..%5csecret.txt", "/app/%2e%2e%2f%2e%2e%2fsecret.txt"}) {
      Client fresh(server.port());
      auto r = fresh.request(bhttp::verb::get, target);
      EXPECT_NE(r.result_int(), 200) << target;
      EXPECT_EQ(r.body().find("SECRET"), std::string::npos) << target;
    }
  }
  std::error_code ec;
  fs::remove_all(web, ec);
}

TEST(HttpServer, WithoutWebAppFilesAppIs404AndTheRootIsNotRedirected) {
  ucr::http::ServerOptions options;
  options.web_root = "/nonexistent/ucr/web/dist";
  TestServer server(options);
  Client c(server.port());
  EXPECT_EQ(c.request(bhttp::verb::get, "/app/").result_int(), 404);
  EXPECT_EQ(c.request(bhttp::verb::get, "/").result_int(), 404);
}

}  // namespace
