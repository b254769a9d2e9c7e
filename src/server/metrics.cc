#include "server/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace kmra::server {
namespace {

const std::vector<double>& Buckets() {
  static const std::vector<double> kBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                               0.1,   0.25,   0.5,   1,    2.5,   5};
  return kBuckets;
}

std::string Number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  (void)std::snprintf(buf, sizeof(buf), "%.17g", v);  // at most 24 characters: cannot truncate
  return buf;
}

std::string Escape(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// Inserts an extra label into a rendered label set ("{a=\"1\"}" + le -> "{a=\"1\",le=\"0.1\"}").
std::string WithLabel(const std::string& rendered, const std::string& name, const std::string& v) {
  std::string extra = name + "=\"" + v + "\"";
  if (rendered.empty()) return "{" + extra + "}";
  return rendered.substr(0, rendered.size() - 1) + "," + extra + "}";
}

}  // namespace

std::string Metrics::RenderLabels(const Labels& labels) {
  if (labels.empty()) return {};
  std::string out = "{";
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i) out += ",";
    out += labels[i].first + "=\"" + Escape(labels[i].second) + "\"";
  }
  return out + "}";
}

void Metrics::Describe(const std::string& name, Type type, const std::string& help) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& family = families_[name];
  family.type = type;
  family.help = help;
}

void Metrics::Add(const std::string& name, const Labels& labels, double value) {
  std::lock_guard<std::mutex> lock(mu_);
  families_[name].values[RenderLabels(labels)] += value;
}

void Metrics::Set(const std::string& name, const Labels& labels, double value) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& family = families_[name];
  family.type = Type::kGauge;
  family.values[RenderLabels(labels)] = value;
}

void Metrics::KeepOnly(const std::string& name, const std::vector<Labels>& keep) {
  std::vector<std::string> rendered;
  rendered.reserve(keep.size());
  for (const auto& labels : keep) rendered.push_back(RenderLabels(labels));
  std::sort(rendered.begin(), rendered.end());
  auto kept = [&rendered](const std::string& series) {
    return std::binary_search(rendered.begin(), rendered.end(), series);
  };
  std::lock_guard<std::mutex> lock(mu_);
  auto it = families_.find(name);
  if (it == families_.end()) return;
  std::erase_if(it->second.values, [&](const auto& v) { return !kept(v.first); });
  std::erase_if(it->second.histograms, [&](const auto& h) { return !kept(h.first); });
}

void Metrics::Observe(const std::string& name, const Labels& labels, double value) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& family = families_[name];
  family.type = Type::kHistogram;
  auto& h = family.histograms[RenderLabels(labels)];
  if (h.counts.empty()) h.counts.assign(Buckets().size(), 0);
  for (size_t i = 0; i < Buckets().size(); ++i) {
    if (value <= Buckets()[i]) {
      h.counts[i] += 1;
      break;
    }
  }
  h.sum += value;
  h.count += 1;
}

double Metrics::Value(const std::string& name, const Labels& labels) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = families_.find(name);
  if (it == families_.end()) return 0;
  auto v = it->second.values.find(RenderLabels(labels));
  return v == it->second.values.end() ? 0 : v->second;
}

std::string Metrics::Render() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  for (const auto& [name, family] : families_) {
    const char* type = family.type == Type::kCounter ? "counter"
                       : family.type == Type::kGauge ? "gauge"
                                                     : "histogram";
    if (!family.help.empty()) out += "# HELP " + name + " " + family.help + "\n";
    out += "# TYPE " + name + " " + type + "\n";
    for (const auto& [labels, value] : family.values) {
      out += name + labels + " " + Number(value) + "\n";
    }
    for (const auto& [labels, h] : family.histograms) {
      double cumulative = 0;
      for (size_t i = 0; i < Buckets().size(); ++i) {
        cumulative += h.counts[i];
        out += name + "_bucket" + WithLabel(labels, "le", Number(Buckets()[i])) + " " +
               Number(cumulative) + "\n";
      }
      out += name + "_bucket" + WithLabel(labels, "le", "+Inf") + " " + Number(h.count) + "\n";
      out.append(name).append("_sum").append(labels).append(" ").append(Number(h.sum)).append("\n");
      out.append(name)
          .append("_count")
          .append(labels)
          .append(" ")
          .append(Number(h.count))
          .append("\n");
    }
  }
  return out;
}

}  // namespace kmra::server
