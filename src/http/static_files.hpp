// http/static_files: the web apps' built files (web/dist), served read-only under /app/.
// A StaticFiles is immutable after construction and safe to use from any number of threads.
#pragma once

#include "api/request.hpp"

#include <filesystem>
#include <string_view>

namespace ucr::http {

/// Serves the files of one directory. Paths are the decoded URL path below the mount point
/// ("", "assets/index-1a2b.js", "patient/123"). A path that names no file but has no file
/// extension is a client-side route and gets index.html; a missing file with an extension is a
/// 404. Dot segments, hidden files, backslashes and NUL bytes are refused (404), and a file
/// reached through a symbolic link that leaves the directory is not served.
class StaticFiles {
 public:
  /// An empty root serves nothing (every path is a 404).
  explicit StaticFiles(std::filesystem::path root);

  /// GET (and HEAD, answered as GET by the server) of one path below the mount point.
  [[nodiscard]] api::Response get(std::string_view relative) const;

  [[nodiscard]] const std::filesystem::path& root() const { return root_; }
  /// False when the root is empty or does not exist: then every path is a 404.
  [[nodiscard]] bool serving() const { return !canonical_root_.empty(); }

 private:
  [[nodiscard]] api::Response file(const std::filesystem::path& path, bool immutable) const;

  std::filesystem::path root_;
  std::filesystem::path canonical_root_;
};

/// The web app's files when `ucr serve` is not given --web-root: a `web` directory beside the
/// executable, else `../share/ucr/web` from it, else the source tree's `web/dist` that this binary
/// was built from. The first that holds an index.html wins; empty when none does.
[[nodiscard]] std::filesystem::path find_web_root();

/// The MIME type for a file name's extension ("application/octet-stream" if unknown).
[[nodiscard]] std::string_view content_type_for(const std::filesystem::path& path);

}  // namespace ucr::http
