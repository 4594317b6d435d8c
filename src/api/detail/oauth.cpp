#include "api/detail/oauth.hpp"

#include "api/detail/ops.hpp"
#include "core/time.hpp"

#include <fmt/format.h>
#include <boost/json.hpp>

#include <string>
#include <variant>

namespace ucr::api::detail {
namespace {

namespace json = boost::json;

std::int64_t now_seconds() { return core::now_micros() / 1'000'000; }

Response json_response(int status, const json::object& body) {
  Response r;
  r.status = status;
  r.content_type = "application/json; charset=utf-8";
  r.body = json::serialize(body);
  r.headers.emplace_back("Cache-Control", "no-store");
  r.headers.emplace_back("Pragma", "no-cache");
  r.interaction = "auth";
  return r;
}

/// A form body (application/x-www-form-urlencoded): '+' is a space there.
std::vector<std::pair<std::string, std::string>> form_of(const Request& req) {
  std::string body = req.body;
  std::string fixed;
  fixed.reserve(body.size());
  for (const char c : body) {
    if (c == '+') {
      fixed += "%20";
    } else {
      fixed.push_back(c);
    }
  }
  auto decoded = decode_query(fixed);
  return decoded ? *decoded : std::vector<std::pair<std::string, std::string>>{};
}

std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (const char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

std::string url_encode(std::string_view s) {
  std::string out;
  for (const unsigned char c : s) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
        c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

Response html_page(int status, const std::string& title, const std::string& main) {
  Response r;
  r.status = status;
  r.content_type = "text/html; charset=utf-8";
  r.interaction = "auth";
  r.headers.emplace_back("Cache-Control", "no-store");
  r.headers.emplace_back("X-Frame-Options", "DENY");
  r.headers.emplace_back("Content-Security-Policy",
                         "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
  // Colours, type and spacing follow the NHS design system (service.nhs.uk/design-system).
  r.body = fmt::format(
      R"(<!DOCTYPE html>
<html lang="en-GB">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{0} - Universal Care Record</title>
<style>
body{{margin:0;font-family:Frutiger W01,Arial,sans-serif;font-size:19px;line-height:1.47;color:#212b32;background:#f0f4f5}}
header{{background:#005eb8;color:#fff;padding:16px 20px;font-weight:600;font-size:22px}}
main{{max-width:560px;margin:32px auto;padding:0 20px}}
h1{{font-size:32px;margin:0 0 24px}}
label{{display:block;font-weight:600;margin:16px 0 4px}}
input[type=text],input[type=password]{{width:100%;box-sizing:border-box;font-size:19px;padding:8px;border:2px solid #4c6272;border-radius:0}}
input:focus{{outline:4px solid #ffeb3b;box-shadow:inset 0 0 0 2px #212b32}}
button{{margin-top:24px;background:#007f3b;color:#fff;border:0;box-shadow:0 4px 0 #00401e;font-size:19px;font-weight:600;padding:12px 16px;cursor:pointer}}
button:focus{{outline:4px solid #ffeb3b;background:#ffeb3b;color:#212b32}}
.error{{border:4px solid #d5281b;background:#fff;padding:16px;margin-bottom:24px}}
.error h2{{font-size:24px;margin:0 0 8px}}
.hint{{color:#4c6272}}
</style>
</head>
<body>
<header>Universal Care Record</header>
<main id="maincontent">
{1}
</main>
</body>
</html>
)",
      html_escape(title), main);
  return r;
}

Response login_page(const auth::AuthorizeRequest& a, const std::string& user, const std::string& message,
                    bool need_totp) {
  std::string main =
      fmt::format("<h1>Sign in</h1>\n<p class=\"hint\">to continue to {}</p>\n", html_escape(a.client_name));
  if (!message.empty()) {
    main +=
        fmt::format("<div class=\"error\" role=\"alert\" tabindex=\"-1\"><h2>There is a problem</h2><p>{}</p></div>\n",
                    html_escape(message));
  }
  main += "<form method=\"post\" action=\"/oauth/authorize\" novalidate>\n";
  const auto hidden = [&main](std::string_view name, const std::string& value) {
    main += fmt::format("<input type=\"hidden\" name=\"{}\" value=\"{}\">\n", name, html_escape(value));
  };
  hidden("response_type", "code");
  hidden("client_id", a.client_id);
  hidden("redirect_uri", a.redirect_uri);
  hidden("scope", a.scope);
  hidden("state", a.state);
  hidden("code_challenge", a.code_challenge);
  hidden("code_challenge_method", "S256");
  if (!a.nonce.empty()) hidden("nonce", a.nonce);
  main += fmt::format(
      "<label for=\"username\">User name</label>\n<input type=\"text\" id=\"username\" name=\"username\" "
      "autocomplete=\"username\" value=\"{}\"{}>\n<label for=\"password\">Password</label>\n"
      "<input type=\"password\" id=\"password\" name=\"password\" autocomplete=\"current-password\">\n",
      html_escape(user), need_totp ? "" : " autofocus");
  if (need_totp) {
    main +=
        "<label for=\"totp\">Security code</label>\n<p class=\"hint\" id=\"totp-hint\">The 6-digit code from your "
        "authenticator app</p>\n<input type=\"text\" id=\"totp\" name=\"totp\" inputmode=\"numeric\" "
        "autocomplete=\"one-time-code\" aria-describedby=\"totp-hint\" autofocus>\n";
  }
  main += "<button type=\"submit\">Sign in</button>\n</form>\n";
  return html_page(message.empty() || need_totp ? 200 : 401, "Sign in", main);
}

Response redirect(const std::string& location) {
  Response r;
  r.status = 302;
  r.content_type = "text/plain; charset=utf-8";
  r.headers.emplace_back("Location", location);
  r.headers.emplace_back("Cache-Control", "no-store");
  r.interaction = "auth";
  return r;
}

std::string param(const std::vector<std::pair<std::string, std::string>>& params, std::string_view name) {
  for (const auto& [k, v] : params) {
    if (k == name) return v;
  }
  return {};
}

Response authorize(auth::Provider& provider, const Request& req) {
  const bool post = req.method == "POST";
  const auto params = post ? form_of(req) : req.query;
  auto checked = provider.check_authorize(params);
  if (auto* err = std::get_if<auth::AuthorizeError>(&checked)) {
    if (!err->redirect) {
      return html_page(400, "Sign-in problem",
                       fmt::format("<h1>Sign-in problem</h1>\n<div class=\"error\" role=\"alert\"><p>{}</p></div>\n",
                                   html_escape(err->description)));
    }
    std::string q = "error=" + url_encode(err->error) + "&error_description=" + url_encode(err->description);
    if (const auto state = param(params, "state"); !state.empty()) q += "&state=" + url_encode(state);
    const std::string uri = param(params, "redirect_uri");
    return redirect(uri + (uri.find('?') == std::string::npos ? "?" : "&") + q);
  }
  const auto& a = std::get<auth::AuthorizeRequest>(checked);
  if (!post) return login_page(a, {}, {}, false);
  const std::string user = param(params, "username");
  const std::string password = param(params, "password");
  auto outcome = provider.login(a, user, password, param(params, "totp"), now_seconds(), req.peer);
  if (outcome.ok) return redirect(outcome.location);
  return login_page(a, user, outcome.message, outcome.need_totp);
}

}  // namespace

bool is_oauth_path(std::string_view path) {
  return path.starts_with("/oauth/") || path.starts_with("/.well-known/") || path.starts_with("/fhir/.well-known/");
}

Response handle_oauth(auth::Provider& provider, const Request& req) {
  const std::string& p = req.path;
  const bool get = req.method == "GET" || req.method == "HEAD";
  if (get && (p == "/.well-known/openid-configuration" || p == "/fhir/.well-known/openid-configuration")) {
    return json_response(200, provider.openid_configuration());
  }
  if (get && (p == "/.well-known/smart-configuration" || p == "/fhir/.well-known/smart-configuration")) {
    return json_response(200, provider.smart_configuration());
  }
  if (get && p == "/oauth/jwks") return json_response(200, provider.jwks());
  if (p == "/oauth/authorize" && (get || req.method == "POST")) return authorize(provider, req);
  if (p == "/oauth/token" && req.method == "POST") {
    auto r = provider.token(form_of(req), req.headers.get("authorization"), now_seconds(), req.peer);
    Response out = json_response(r.status, r.body);
    if (r.status == 401) out.headers.emplace_back("WWW-Authenticate", "Basic realm=\"ucr\"");
    return out;
  }
  if (p == "/oauth/revoke" && req.method == "POST") {
    auto r = provider.revoke(form_of(req), req.headers.get("authorization"), now_seconds());
    return json_response(r.status, r.body);
  }
  return json_response(
      404, json::object{{"error", "not_found"}, {"error_description", fmt::format("no {} {} here", req.method, p)}});
}

}  // namespace ucr::api::detail
