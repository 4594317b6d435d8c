#include "http/static_files.hpp"

#include <array>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>
#include <utility>

#ifndef UCR_WEB_DIST
#define UCR_WEB_DIST ""
#endif

namespace ucr::http {
namespace {

namespace fs = std::filesystem;

// The app's own scripts and styles only; no inline script, no framing, no other origin.
constexpr std::string_view kAppPolicy =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

api::Response not_found() {
  api::Response r;
  r.status = 404;
  r.content_type = "text/plain; charset=utf-8";
  r.body = "Not found\n";
  r.headers.emplace_back("Cache-Control", "no-store");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  return r;
}

/// True when every segment of the path is a plain name: no '.', '..', hidden files, backslashes or NUL.
bool safe_relative(std::string_view path) {
  std::size_t start = 0;
  while (start <= path.size()) {
    const auto slash = path.find('/', start);
    const auto end = slash == std::string_view::npos ? path.size() : slash;
    const std::string_view seg = path.substr(start, end - start);
    if (!seg.empty() && seg.front() == '.') return false;  // ".", "..", ".env", ".git"
    if (seg.find('\\') != std::string_view::npos || seg.find('\0') != std::string_view::npos) return false;
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return true;
}

bool has_extension(std::string_view path) {
  const auto slash = path.rfind('/');
  const std::string_view last = slash == std::string_view::npos ? path : path.substr(slash + 1);
  return last.find('.') != std::string_view::npos;
}

bool within(const fs::path& inner, const fs::path& outer) {
  auto i = inner.begin();
  for (auto o = outer.begin(); o != outer.end(); ++o, ++i) {
    if (i == inner.end() || *i != *o) return false;
  }
  return true;
}

bool has_index(const fs::path& dir) {
  std::error_code ec;
  return !dir.empty() && fs::is_regular_file(dir / "index.html", ec);
}

}  // namespace

std::string_view content_type_for(const fs::path& path) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 17> kTypes = {{
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".map", "application/json"},
      {".webmanifest", "application/manifest+json"},
      {".txt", "text/plain; charset=utf-8"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".jpg", "image/jpeg"},
      {".jpeg", "image/jpeg"},
      {".webp", "image/webp"},
      {".ico", "image/x-icon"},
      {".woff", "font/woff"},
      {".woff2", "font/woff2"},
      {".wasm", "application/wasm"},
  }};
  const std::string ext = path.extension().string();
  for (const auto& [e, type] : kTypes) {
    if (e == ext) return type;
  }
  return "application/octet-stream";
}

StaticFiles::StaticFiles(fs::path root) : root_(std::move(root)) {
  if (root_.empty()) return;
  std::error_code ec;
  canonical_root_ = fs::canonical(root_, ec);
  if (ec) canonical_root_.clear();
}

api::Response StaticFiles::get(std::string_view relative) const {
  if (canonical_root_.empty() || !safe_relative(relative)) return not_found();
  // Leading and repeated slashes add nothing: "a//b" is "a/b".
  fs::path rel;
  std::size_t start = 0;
  while (start < relative.size()) {
    auto slash = relative.find('/', start);
    if (slash == std::string_view::npos) slash = relative.size();
    if (slash > start) rel /= std::string(relative.substr(start, slash - start));
    start = slash + 1;
  }
  if (!rel.empty()) {
    const fs::path candidate = canonical_root_ / rel;
    std::error_code ec;
    if (fs::is_regular_file(candidate, ec)) {
      return file(candidate, rel.begin() != rel.end() && *rel.begin() == "assets");
    }
    if (has_extension(relative)) return not_found();  // a missing asset, not a page
  }
  return file(canonical_root_ / "index.html", false);
}

api::Response StaticFiles::file(const fs::path& path, bool immutable) const {
  std::error_code ec;
  const fs::path real = fs::canonical(path, ec);
  if (ec || !within(real, canonical_root_)) return not_found();
  std::ifstream in(real, std::ios::binary);
  if (!in) return not_found();
  api::Response r;
  r.body.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  r.content_type = std::string(content_type_for(real));
  // Vite names built assets by their content hash, so they never change; index.html and the rest
  // are checked with the server each time so a new build is picked up at once.
  r.headers.emplace_back("Cache-Control", immutable ? "public, max-age=31536000, immutable" : "no-cache");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  if (real.extension() == ".html") {
    r.headers.emplace_back("Content-Security-Policy", std::string(kAppPolicy));
    r.headers.emplace_back("X-Frame-Options", "DENY");
    r.headers.emplace_back("Referrer-Policy", "no-referrer");
  }
  return r;
}

fs::path find_web_root() {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path dir = exe.parent_path();
    for (const fs::path& candidate : {dir / "web", dir / ".." / "share" / "ucr" / "web"}) {
      if (has_index(candidate)) return candidate;
    }
  }
  fs::path built(UCR_WEB_DIST);
  if (has_index(built)) return built;
  return {};
}

}  // namespace ucr::http
