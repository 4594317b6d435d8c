// Tests of ucr::http::StaticFiles: the web apps' files under /app/, with client-side routes answered
// by index.html and nothing outside the directory ever served.
#include "http/static_files.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

std::string header(const ucr::api::Response& r, std::string_view name) {
  for (const auto& [n, v] : r.headers) {
    if (n == name) return v;
  }
  return {};
}

void write_file(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}

/// A built app in a temporary directory, with a secret file beside (not inside) it.
class StaticFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    base_ = fs::temp_directory_path() / ("ucr-static-test-" + std::to_string(rd()) + std::to_string(rd()));
    root_ = base_ / "dist";
    write_file(root_ / "index.html", "<!DOCTYPE html><title>app</title>");
    write_file(root_ / "assets" / "index-1a2b3c.js", "console.log(1)");
    write_file(root_ / "assets" / "index-1a2b3c.css", "body{}");
    write_file(root_ / "favicon.svg", "<svg/>");
    write_file(root_ / ".env", "SECRET=inside");
    write_file(base_ / "secret.txt", "SECRET=outside");
    std::error_code ec;
    fs::create_symlink(base_ / "secret.txt", root_ / "link.txt", ec);
    symlink_made_ = !ec;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(base_, ec);
  }

  fs::path base_;
  fs::path root_;
  bool symlink_made_ = false;
};

TEST_F(StaticFilesTest, MountPointServesIndexHtmlWithTheAppsSecurityHeaders) {
  const ucr::http::StaticFiles files(root_);
  const auto r = files.get("");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
  EXPECT_EQ(r.body, "<!DOCTYPE html><title>app</title>");
  EXPECT_EQ(header(r, "Cache-Control"), "no-cache");
  EXPECT_NE(header(r, "Content-Security-Policy").find("default-src 'self'"), std::string::npos);
  EXPECT_EQ(header(r, "X-Frame-Options"), "DENY");
  EXPECT_EQ(header(r, "X-Content-Type-Options"), "nosniff");
}

TEST_F(StaticFilesTest, ClientSideRoutesAreAnsweredWithIndexHtml) {
  const ucr::http::StaticFiles files(root_);
  for (const char* route : {"callback", "patient/123", "my-record", "patient/abc-9/summary"}) {
    const auto r = files.get(route);
    EXPECT_EQ(r.status, 200) << route;
    EXPECT_EQ(r.body, "<!DOCTYPE html><title>app</title>") << route;
  }
}

TEST_F(StaticFilesTest, HashedAssetsHaveTheirContentTypeAndAreCachedForAYear) {
  const ucr::http::StaticFiles files(root_);
  const auto js = files.get("assets/index-1a2b3c.js");
  EXPECT_EQ(js.status, 200);
  EXPECT_EQ(js.content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(js.body, "console.log(1)");
  EXPECT_EQ(header(js, "Cache-Control"), "public, max-age=31536000, immutable");
  EXPECT_EQ(files.get("assets/index-1a2b3c.css").content_type, "text/css; charset=utf-8");
  const auto icon = files.get("favicon.svg");
  EXPECT_EQ(icon.content_type, "image/svg+xml");
  EXPECT_EQ(header(icon, "Cache-Control"), "no-cache");
}

TEST_F(StaticFilesTest, MissingAssetIs404NotTheIndexPage) {
  const ucr::http::StaticFiles files(root_);
  EXPECT_EQ(files.get("assets/index-gone.js").status, 404);
  EXPECT_EQ(files.get("robots.txt").status, 404);
}

TEST_F(StaticFilesTest, TraversalOutOfTheDirectoryIsRefused) {
  const ucr::http::StaticFiles files(root_);
  const std::vector<std::string> attempts = {"../secret.txt",
                                             "assets/../../secret.txt",
                                             "assets/../index.html",
                                             "./index.html",
                                             "..",
                                             "a/./b",
                                             "assets\\..\\..\\secret.txt",
                                             "..\\secret.txt",
                                             std::string("index.html\0.js", 14)};
  for (const std::string& path : attempts) {
    const auto r = files.get(path);
    EXPECT_EQ(r.status, 404) << path;
    EXPECT_EQ(r.body.find("SECRET"), std::string::npos) << path;
  }
}

TEST_F(StaticFilesTest, HiddenFilesAreNotServed) {
  const ucr::http::StaticFiles files(root_);
  const auto r = files.get(".env");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body.find("SECRET"), std::string::npos);
}

TEST_F(StaticFilesTest, SymbolicLinkLeadingOutOfTheDirectoryIsNotFollowed) {
  if (!symlink_made_) GTEST_SKIP() << "this file system cannot make symbolic links";
  const ucr::http::StaticFiles files(root_);
  const auto r = files.get("link.txt");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body.find("SECRET"), std::string::npos);
}

TEST_F(StaticFilesTest, RepeatedSlashesNameTheSameFile) {
  const ucr::http::StaticFiles files(root_);
  EXPECT_EQ(files.get("assets//index-1a2b3c.js").body, "console.log(1)");
}

TEST(StaticFiles, WithoutADirectoryEveryPathIs404) {
  const ucr::http::StaticFiles none{fs::path{}};
  EXPECT_FALSE(none.serving());
  EXPECT_EQ(none.get("").status, 404);
  const ucr::http::StaticFiles missing{fs::path("/nonexistent/ucr/web/dist")};
  EXPECT_FALSE(missing.serving());
  EXPECT_EQ(missing.get("patient/1").status, 404);
}

TEST(StaticFiles, ContentTypesFollowTheExtension) {
  EXPECT_EQ(ucr::http::content_type_for("a.woff2"), "font/woff2");
  EXPECT_EQ(ucr::http::content_type_for("a.png"), "image/png");
  EXPECT_EQ(ucr::http::content_type_for("a.json"), "application/json");
  EXPECT_EQ(ucr::http::content_type_for("a.unknown"), "application/octet-stream");
}

}  // namespace
