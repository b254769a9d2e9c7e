// Maps (method, path) to a handler. Patterns are literal segments and "{name}" captures:
// "/v1/keys/{id}/release". A path that matches no pattern gets 404; one that matches a pattern with
// another method gets 405 with an Allow header. Both as JSON errors.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "server/http.h"

namespace kmra::server {

using PathParams = std::map<std::string, std::string>;
using RouteHandler = std::function<Response(Request&, const PathParams&)>;

class Router {
 public:
  // Adds a route. Routes are tried in insertion order. Not thread safe; add all before serving.
  void Add(std::string method, std::string pattern, RouteHandler handler);

  // Dispatches a request. Thread safe once routes are added.
  Response Dispatch(Request& request) const;

  // The pattern that matches the request path ("/v1/keys/{id}"), or "" when none: a label for
  // metrics that does not explode with key ids.
  std::string PatternFor(const Request& request) const;

  // The request method as a metric label: one the routes use (or HEAD, served by GET routes), else
  // "other", so made-up methods cannot create metric series.
  std::string_view MethodLabel(const Request& request) const;

 private:
  struct Route {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;
    RouteHandler handler;
  };
  static bool Match(const Route& route, const std::vector<std::string>& path, PathParams* params);

  std::vector<Route> routes_;
};

}  // namespace kmra::server
