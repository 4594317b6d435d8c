// api/detail/oauth: the HTTP face of the built-in OAuth2/OpenID Connect provider: discovery
// documents, JWKS, the sign-in page (authorization code with PKCE), the token and revocation
// endpoints. Thread-safe.
#pragma once

#include "api/request.hpp"
#include "auth/provider.hpp"

#include <string_view>

namespace ucr::api::detail {

/// True for the paths handle_oauth answers: /oauth/..., /.well-known/..., /fhir/.well-known/...
[[nodiscard]] bool is_oauth_path(std::string_view path);

[[nodiscard]] Response handle_oauth(auth::Provider& provider, const Request& request);

}  // namespace ucr::api::detail
