// Tests of ucr::http::Server over a real socket: a server on 127.0.0.1:0 in a background thread over a
// temporary SQLite store, and a small synchronous Beast client.
#include "api/api.hpp"
#include "http/server.hpp"
#include "store/sqlite/sqlite_store.hpp"

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
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
    api_ = std::make_unique<ucr::api::Api>(*store_, ucr::api::ApiOptions{});
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

}  // namespace

// fmt_uuid_tail is used above; defined after the anonymous namespace opening for readability.
namespace {
std::string fmt_uuid_tail(int i) {
  char buf[13];
  std::snprintf(buf, sizeof buf, "%012d", i);
  return buf;
}
}  // namespace
