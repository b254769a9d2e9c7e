// Prometheus metrics in the text exposition format (version 0.0.4), hand-written: counters, gauges
// and histograms with labels. Thread safe. Served by GET /metrics.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace kmra::server {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Metrics {
 public:
  enum class Type { kCounter, kGauge, kHistogram };

  // Declares a metric family with its HELP text. Histograms use latency buckets in seconds.
  void Describe(const std::string& name, Type type, const std::string& help);

  // Adds to a counter (creating the labelled series at 0 first).
  void Add(const std::string& name, const Labels& labels, double value = 1);
  // Sets a gauge.
  void Set(const std::string& name, const Labels& labels, double value);
  // Records one observation in a histogram.
  void Observe(const std::string& name, const Labels& labels, double value);

  // Removes every series of `name` whose label set is not among `keep` (a gauge per platform whose
  // platform is gone, so that label values stay bounded by what is current).
  void KeepOnly(const std::string& name, const std::vector<Labels>& keep);

  // Current value of a counter or gauge series (0 when absent). For tests and /readyz.
  double Value(const std::string& name, const Labels& labels) const;

  // The whole registry as Prometheus text.
  std::string Render() const;

 private:
  struct Histogram {
    std::vector<double> counts;  // per bucket, not cumulative
    double sum = 0;
    double count = 0;
  };
  struct Family {
    Type type = Type::kCounter;
    std::string help;
    std::map<std::string, double> values;         // rendered label set -> value
    std::map<std::string, Histogram> histograms;  // rendered label set -> histogram
  };
  static std::string RenderLabels(const Labels& labels);

  mutable std::mutex mu_;
  std::map<std::string, Family> families_;
};

}  // namespace kmra::server
