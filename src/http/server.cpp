#include "http/server.hpp"

#include "http/static_files.hpp"

#include "core/log.hpp"
#include "core/metrics.hpp"
#include "core/time.hpp"

#include <fmt/format.h>
#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url/parse.hpp>

#include <array>
#include <atomic>
#include <map>
#include <thread>

namespace ucr::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using asio::awaitable;
using asio::use_awaitable;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

using BeastRequest = bhttp::request<bhttp::string_body>;
using BeastResponse = bhttp::response<bhttp::string_body>;

constexpr std::array<const char*, 17> kInteractions = {
    "search-system", "read",           "vread",        "create",           "update",      "patch",        "delete",
    "search-type",   "history-system", "history-type", "history-instance", "transaction", "capabilities", "operation",
    "health",        "metrics",        "other"};

/// Request metrics by interaction and response class.
class Metrics {
 public:
  Metrics() {
    for (const char* name : kInteractions) by_interaction_.emplace(name, std::make_unique<core::Histogram>());
  }
  void observe(const std::string& interaction, int status, std::int64_t micros) {
    auto it = by_interaction_.find(interaction);
    if (it == by_interaction_.end()) it = by_interaction_.find("other");
    it->second->observe_micros(micros);
    const auto cls = static_cast<std::size_t>(std::clamp(status / 100, 1, 5) - 1);
    by_class_.at(cls).fetch_add(1, std::memory_order_relaxed);
  }
  void render(std::string& out, std::int64_t in_flight) const {
    out += "# HELP ucr_http_request_duration_seconds Time from a complete request to the response being ready.\n";
    out += "# TYPE ucr_http_request_duration_seconds histogram\n";
    for (const auto& [name, h] : by_interaction_) {
      h->render(out, "ucr_http_request_duration_seconds", fmt::format("interaction=\"{}\"", name));
    }
    out += "# HELP ucr_http_responses_total Responses by status class.\n";
    out += "# TYPE ucr_http_responses_total counter\n";
    for (std::size_t i = 0; i < by_class_.size(); ++i) {
      out += fmt::format("ucr_http_responses_total{{class=\"{}xx\"}} {}\n", i + 1, by_class_.at(i).load());
    }
    out += "# HELP ucr_http_in_flight_requests Requests being handled now.\n";
    out += "# TYPE ucr_http_in_flight_requests gauge\n";
    out += fmt::format("ucr_http_in_flight_requests {}\n", in_flight);
  }

 private:
  std::map<std::string, std::unique_ptr<core::Histogram>> by_interaction_;
  std::array<std::atomic<std::uint64_t>, 5> by_class_{};
};

std::string outcome_body(std::string_view code, std::string_view diagnostics) {
  return fmt::format(
      R"({{"resourceType":"OperationOutcome","issue":[{{"severity":"error","code":"{}","diagnostics":"{}"}}]}})", code,
      diagnostics);
}

bool safe_host(std::string_view h) {
  if (h.empty() || h.size() > 255) return false;
  return std::all_of(h.begin(), h.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '-' || c == ':' || c == '[' || c == ']';
  });
}

}  // namespace

/// Counts one request in flight for as long as it lives (or until release()).
class InFlight {
 public:
  InFlight(std::atomic<std::int64_t>& counter, bool active) : counter_(counter), active_(active) {
    if (active_) counter_.fetch_add(1);
  }
  InFlight(const InFlight&) = delete;
  InFlight& operator=(const InFlight&) = delete;
  ~InFlight() { release(); }
  void release() {
    if (active_) counter_.fetch_sub(1);
    active_ = false;
  }

 private:
  std::atomic<std::int64_t>& counter_;
  bool active_;
};

struct Server::Impl {
  Impl(ServerOptions o, api::Api& a, store::Store& s)
      : options(std::move(o)),
        api(a),
        store(s),
        io(static_cast<int>(threads())),
        acceptor(io),
        workers(options.worker_threads),
        ssl(asio::ssl::context::tls_server),
        web(options.web_root) {}

  std::size_t threads() const {
    if (options.io_threads > 0) return options.io_threads;
    const auto n = std::thread::hardware_concurrency();
    return n == 0 ? 2 : n;
  }

  ServerOptions options;
  api::Api& api;
  store::Store& store;
  asio::io_context io;
  tcp::acceptor acceptor;
  asio::thread_pool workers;
  asio::ssl::context ssl;
  bool tls = false;
  std::atomic<bool> stopping{false};
  std::atomic<std::int64_t> in_flight{0};
  Metrics metrics;
  StaticFiles web;
  std::string scheme_host;  // e.g. http://127.0.0.1:8080

  core::Result<void> start() {
    if (!options.tls_cert.empty() || !options.tls_key.empty()) {
      boost::system::error_code ec;
      ssl.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                      asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
      ssl.use_certificate_chain_file(options.tls_cert, ec);
      if (!ec) ssl.use_private_key_file(options.tls_key, asio::ssl::context::pem, ec);
      if (ec) return core::Error::invalid(fmt::format("cannot load TLS certificate or key: {}", ec.message()));
      tls = true;
    }
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(options.host, ec);
    if (ec) return core::Error::invalid(fmt::format("'{}' is not an IP address", options.host));
    tcp::endpoint ep(address, options.port);
    if (acceptor.open(ep.protocol(), ec); ec) return core::Error::internal("cannot open socket: " + ec.message());
    (void)acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (acceptor.bind(ep, ec); ec) {
      return core::Error::invalid(fmt::format("cannot listen on {}:{}: {}", options.host, options.port, ec.message()));
    }
    if (acceptor.listen(asio::socket_base::max_listen_connections, ec); ec) {
      return core::Error::internal("cannot listen: " + ec.message());
    }
    const auto bound = acceptor.local_endpoint().port();
    scheme_host = options.public_base.empty()
                      ? fmt::format("{}://{}:{}", tls ? "https" : "http",
                                    address.is_v6() ? "[" + options.host + "]" : options.host, bound)
                      : options.public_base;
    if (web.serving()) {
      core::log_info(fmt::format("web app at {}/app/ (files in {})", scheme_host, web.root().string()));
    } else if (!options.web_root.empty()) {
      core::log_warn(fmt::format("--web-root {} is not a directory: /app/ answers 404", options.web_root.string()));
    }
    asio::co_spawn(io, accept_loop(), asio::detached);
    return core::ok();
  }

  awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(kTuple);
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
        continue;  // e.g. too many open files: keep serving the connections we have
      }
      socket.set_option(tcp::no_delay(true), ec);
      if (tls) {
        asio::co_spawn(io, tls_session(std::move(socket)), asio::detached);
      } else {
        asio::co_spawn(io, session(beast::tcp_stream(std::move(socket))), asio::detached);
      }
    }
  }

  awaitable<void> tls_session(tcp::socket socket) {
    beast::ssl_stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(socket)), ssl);
    beast::get_lowest_layer(stream).expires_after(options.header_timeout);
    auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, kTuple);
    if (ec) co_return;
    co_await session(std::move(stream));
  }

  template <class Stream>
  awaitable<void> session(Stream stream) {
    beast::flat_buffer buffer;
    bool rejected = false;  // answered an unreadable request: the client may still be sending it
    std::string peer;       // the client's address, for the audit trail
    {
      beast::error_code pec;
      const auto endpoint = beast::get_lowest_layer(stream).socket().remote_endpoint(pec);
      if (!pec) peer = endpoint.address().to_string();
    }
    for (;;) {
      bhttp::request_parser<bhttp::string_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(options.max_header_bytes));
      parser.body_limit(options.max_body_bytes);
      beast::get_lowest_layer(stream).expires_after(options.header_timeout);
      auto [ec, n] = co_await bhttp::async_read_header(stream, buffer, parser, kTuple);
      // A request is in flight from its complete header on, so a graceful stop also waits for a
      // body still being uploaded (bounded by the body timeout and the grace period).
      InFlight counted(in_flight, !ec);
      if (!ec && !parser.is_done()) {
        beast::get_lowest_layer(stream).expires_after(options.body_timeout);
        std::tie(ec, n) = co_await bhttp::async_read(stream, buffer, parser, kTuple);
      }
      if (ec == bhttp::error::body_limit) {
        co_await reject(stream, bhttp::status::payload_too_large, "too-costly",
                        fmt::format("the request body is larger than {} bytes", options.max_body_bytes));
        rejected = true;
        break;
      }
      if (ec == bhttp::error::header_limit) {
        co_await reject(stream, bhttp::status::request_header_fields_too_large, "too-costly",
                        "the request headers are too large");
        rejected = true;
        break;
      }
      if (ec) {
        const bool quiet = ec == bhttp::error::end_of_stream || ec == beast::error::timeout ||
                           ec == asio::error::connection_reset || ec == asio::error::eof ||
                           ec == asio::error::operation_aborted;
        if (!quiet && ec != bhttp::error::partial_message) {
          co_await reject(stream, bhttp::status::bad_request, "structure", "the request is not valid HTTP/1.1");
          rejected = true;
        }
        break;
      }
      BeastRequest req = parser.release();
      const bool keep_alive = req.keep_alive() && !stopping.load();
      const bool head = req.method() == bhttp::verb::head;
      BeastResponse res = co_await respond(std::move(req), peer);
      res.keep_alive(keep_alive);
      res.prepare_payload();
      if (head && res.has_content_length()) {
        // A HEAD response reports the length a GET would have but carries no body (RFC 9110 9.3.2).
        const auto length = res.body().size();
        res.body().clear();
        res.content_length(length);
      }
      beast::get_lowest_layer(stream).expires_after(options.write_timeout);
      auto [wec, wn] = co_await bhttp::async_write(stream, res, kTuple);
      counted.release();
      if (wec || !keep_alive) break;
    }
    beast::error_code ignored;
    beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_send, ignored);
    if (rejected) co_await drain_input(beast::get_lowest_layer(stream));
  }

  /// After an error response, reads and discards what the client is still sending (bounded in time and
  /// bytes) before the socket closes: closing with unread input makes the kernel send RST, which can
  /// destroy the error response before the client reads it (e.g. a 413 for a large upload).
  awaitable<void> drain_input(beast::tcp_stream& stream) {
    static constexpr std::size_t kMaxDrain = 64U << 20U;
    stream.expires_after(std::chrono::seconds(5));
    std::array<char, 16384> sink{};
    std::size_t total = 0;
    while (total < kMaxDrain) {
      auto [ec, n] = co_await stream.async_read_some(asio::buffer(sink), kTuple);
      total += n;
      if (ec || stopping.load()) break;
    }
  }

  template <class Stream>
  awaitable<void> reject(Stream& stream, bhttp::status status, std::string_view code, const std::string& why) {
    BeastResponse res{status, 11};
    res.set(bhttp::field::content_type, "application/fhir+json; charset=utf-8");
    res.body() = outcome_body(code, why);
    res.keep_alive(false);
    res.prepare_payload();
    beast::get_lowest_layer(stream).expires_after(options.write_timeout);
    co_await bhttp::async_write(stream, res, kTuple);
    metrics.observe("other", static_cast<int>(status), 0);
    core::log_access(fmt::format("- - {} {} 0", static_cast<int>(status), res.body().size()));
  }

  awaitable<BeastResponse> respond(BeastRequest req, const std::string& peer) {
    const auto start = core::now_micros();
    const std::string method(req.method_string());
    std::string path_for_log;
    api::Response out;
    try {
      out = co_await dispatch(req, path_for_log, peer);  // may move the body out of req
    } catch (const std::exception& e) {
      core::log_error(fmt::format("unhandled error on {} {}: {}", method, path_for_log, e.what()));
      out = api::Response{};
      out.status = 500;
      out.body = outcome_body("exception", "internal error; the request was not completed");
    }
    BeastResponse res{static_cast<bhttp::status>(out.status), req.version()};
    res.set(bhttp::field::server, "ucr");
    if (out.status != 204 && out.status != 304) res.set(bhttp::field::content_type, out.content_type);
    for (const auto& [name, value] : out.headers) res.set(name, value);
    res.body() = std::move(out.body);
    const auto micros = core::now_micros() - start;
    metrics.observe(out.interaction, out.status, micros);
    core::log_access(fmt::format("{} {} {} {} {}", method, path_for_log, out.status, res.body().size(), micros));
    co_return res;
  }

  awaitable<api::Response> dispatch(BeastRequest& req, std::string& path_for_log, const std::string& peer) {
    // Many clients send '|' (token search) and similar characters unencoded: accept them by
    // percent-encoding them before strict parsing.
    std::string target(req.target());
    std::string lenient;
    lenient.reserve(target.size());
    for (const char ch : target) {
      if (std::string_view("|^`{}[]\\\"<>").find(ch) != std::string_view::npos) {
        lenient += fmt::format("%{:02X}", static_cast<unsigned char>(ch));
      } else {
        lenient.push_back(ch);
      }
    }
    auto url = boost::urls::parse_origin_form(lenient);
    if (!url) {
      path_for_log = "-";
      api::Response bad;
      bad.status = 400;
      bad.body = outcome_body("structure", "the request target is not a valid URL path");
      co_return bad;
    }
    api::Request r;
    // HEAD is handled as GET so the response headers (Content-Length included) match; session() drops the body.
    r.method = req.method() == bhttp::verb::head ? std::string("GET") : std::string(req.method_string());
    r.path = url->path();
    path_for_log = r.path;  // the query may carry personal data, so it is never logged
    if (r.path == "/healthz") {
      api::Response h;
      h.content_type = "text/plain; charset=utf-8";
      h.body = "ok\n";
      h.interaction = "health";
      co_return h;
    }
    if (r.path == "/metrics") {
      api::Response m;
      m.content_type = "text/plain; version=0.0.4; charset=utf-8";
      metrics.render(m.body, in_flight.load());
      store.render_metrics(m.body);
      m.body += "# HELP ucr_reindex_resources_total Resources reindexed for new or changed SearchParameters.\n";
      m.body += "# TYPE ucr_reindex_resources_total counter\n";
      m.body += fmt::format("ucr_reindex_resources_total {}\n", api.reindexed_resources());
      m.body += "# HELP ucr_reindex_pending SearchParameters whose reindex is queued or running.\n";
      m.body += "# TYPE ucr_reindex_pending gauge\n";
      m.body += fmt::format("ucr_reindex_pending {}\n", api.pending_reindex_jobs());
      m.interaction = "metrics";
      co_return m;
    }
    if (r.path != "/fhir" && r.path.rfind("/fhir/", 0) != 0 && !api::Api::is_auth_path(r.path)) {
      co_return web_page(r.method, r.path);
    }
    r.raw_query = url->encoded_query();
    for (const auto& p : url->params()) r.query.emplace_back(p.key, p.value);
    for (const auto& f : req) r.headers.add(std::string(f.name_string()), std::string(f.value()));
    r.body = std::move(req.body());  // no copy of large Bundles
    r.base_url = scheme_host + "/fhir";
    r.peer = peer;
    if (options.public_base.empty()) {
      if (auto host = req.find(bhttp::field::host); host != req.end() && safe_host(host->value())) {
        r.base_url = fmt::format("{}://{}/fhir", tls ? "https" : "http", std::string_view(host->value()));
      }
    }
    if (!api::Api::may_write(r)) co_return api.handle(r);
    // Bundles block on their writes: run them on the worker pool so the I/O threads stay free.
    if (api::Api::is_bundle(r)) {
      co_return co_await asio::co_spawn(workers, handle_on_worker(std::move(r)), use_awaitable);
    }
    // Other writes are checked and prepared here, then committed by the store's writer thread
    // without any thread waiting for it; the response is built back on this connection's thread.
    auto request = std::make_shared<api::Request>(std::move(r));
    api::Started started = api.begin(*request);
    auto* pending = std::get_if<api::PendingWrite>(&started);
    if (pending == nullptr) co_return std::get<api::Response>(std::move(started));
    auto outcome = co_await async_write(std::move(pending->work));
    co_return pending->finish(outcome);
  }

  /// Runs a store write and resumes the calling coroutine on its own executor with the outcome.
  awaitable<core::Result<void>> async_write(store::Store::WriteWork work) {
    auto ex = co_await asio::this_coro::executor;
    co_return co_await asio::async_initiate<decltype(use_awaitable), void(core::Result<void>)>(
        [this, ex](auto handler, store::Store::WriteWork&& w) {
          auto shared = std::make_shared<decltype(handler)>(std::move(handler));
          store.write_async(std::move(w), [shared, ex](core::Result<void> r) {
            asio::post(ex, [shared, r = std::move(r)]() mutable { (*shared)(std::move(r)); });
          });
        },
        use_awaitable, std::move(work));
  }

  awaitable<api::Response> handle_on_worker(api::Request r) { co_return api.handle(r); }

  /// The web apps at /app/ (client-side routes get index.html); / leads there when they are installed.
  api::Response web_page(const std::string& method, const std::string& path) const {
    const bool under_app = path.rfind("/app/", 0) == 0;
    if (path == "/app" || (path == "/" && web.serving())) return moved_to("/app/");
    if (!under_app) {
      api::Response r;
      r.status = 404;
      r.body = outcome_body("not-found", "no such page");
      return r;
    }
    if (method != "GET") {
      api::Response r;
      r.status = 405;
      r.headers.emplace_back("Allow", "GET, HEAD");
      r.body = outcome_body("not-supported", "the web app's files are read-only");
      return r;
    }
    return web.get(std::string_view(path).substr(5));
  }

  static api::Response moved_to(const std::string& location) {
    api::Response r;
    r.status = 302;
    r.content_type = "text/plain; charset=utf-8";
    r.headers.emplace_back("Location", location);
    return r;
  }

  void begin_stop() {
    if (stopping.exchange(true)) return;
    asio::post(io, [this] {
      boost::system::error_code ec;
      acceptor.close(ec);
      asio::co_spawn(io, drain(), asio::detached);
    });
  }

  awaitable<void> drain() {
    const auto deadline = std::chrono::steady_clock::now() + options.shutdown_grace;
    asio::steady_timer timer(io);
    while (in_flight.load() > 0 && std::chrono::steady_clock::now() < deadline) {
      timer.expires_after(std::chrono::milliseconds(10));
      co_await timer.async_wait(kTuple);
    }
    io.stop();
  }
};

Server::Server(ServerOptions options, api::Api& api, store::Store& store)
    : impl_(std::make_unique<Impl>(std::move(options), api, store)) {}

Server::~Server() {
  impl_->io.stop();
  impl_->workers.join();
}

core::Result<void> Server::start() { return impl_->start(); }

std::uint16_t Server::port() const { return impl_->acceptor.local_endpoint().port(); }

void Server::run() {
  std::optional<asio::signal_set> signals;
  if (impl_->options.handle_signals) {
    signals.emplace(impl_->io, SIGINT, SIGTERM);
    signals->async_wait([this](const boost::system::error_code& ec, int) {
      if (!ec) {
        core::log_info("signal received: finishing in-flight requests, then stopping");
        impl_->begin_stop();
      }
    });
  }
  std::vector<std::thread> threads;
  const auto n = impl_->threads();
  for (std::size_t i = 1; i < n; ++i) threads.emplace_back([this] { impl_->io.run(); });
  impl_->io.run();
  for (auto& t : threads) t.join();
}

void Server::stop() { impl_->begin_stop(); }

}  // namespace ucr::http
