#include "server/router.h"

#include "server/json.h"

namespace kmra::server {
namespace {

std::vector<std::string> Split(std::string_view path) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    if (slash > start) out.emplace_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return out;
}

}  // namespace

void Router::Add(std::string method, std::string pattern, RouteHandler handler) {
  auto segments = Split(pattern);
  Route route{std::move(method), std::move(pattern), std::move(segments), std::move(handler)};
  routes_.push_back(std::move(route));
}

bool Router::Match(const Route& route, const std::vector<std::string>& path, PathParams* params) {
  if (route.segments.size() != path.size()) return false;
  for (size_t i = 0; i < path.size(); ++i) {
    const std::string& seg = route.segments[i];
    if (seg.size() > 2 && seg.front() == '{' && seg.back() == '}') {
      if (params) (*params)[seg.substr(1, seg.size() - 2)] = path[i];
    } else if (seg != path[i]) {
      return false;
    }
  }
  return true;
}

Response Router::Dispatch(Request& request) const {
  std::vector<std::string> path = Split(request.path);
  std::string allowed;
  for (const auto& route : routes_) {
    PathParams params;
    if (!Match(route, path, &params)) continue;
    if (route.method == request.method) return route.handler(request, params);
    if (request.method == "HEAD" && route.method == "GET") return route.handler(request, params);
    if (allowed.find(route.method) == std::string::npos) {
      allowed += allowed.empty() ? route.method : ", " + route.method;
    }
  }
  if (!allowed.empty()) {
    Response res = ErrorResponse(
        405, "method_not_allowed",
        request.method + " is not allowed on " + request.path + "; allowed: " + allowed);
    res.headers.emplace_back("Allow", allowed);
    return res;
  }
  return ErrorResponse(404, "not_found",
                       "no such endpoint: " + request.method + " " + request.path);
}

std::string_view Router::MethodLabel(const Request& request) const {
  for (const auto& route : routes_) {
    if (route.method == request.method) return route.method;
    if (request.method == "HEAD" && route.method == "GET") return "HEAD";
  }
  return "other";
}

std::string Router::PatternFor(const Request& request) const {
  std::vector<std::string> path = Split(request.path);
  for (const auto& route : routes_) {
    if (Match(route, path, nullptr)) return route.pattern;
  }
  return {};
}

}  // namespace kmra::server
