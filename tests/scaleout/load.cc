#include "scaleout/load.h"

#include <fmt/format.h>

namespace kmra::scaleout {

void Tally::Note(const std::string& what) {
  std::lock_guard<std::mutex> lock(mu_);
  ++attempts_[what];
}

int Tally::Count(const std::string& what) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = attempts_.find(what);
  return it == attempts_.end() ? 0 : it->second;
}

std::string Tally::Summary() {
  std::lock_guard<std::mutex> lock(mu_);
  std::string s =
      fmt::format("ok {} wrong {} refused {} gave_up {} lost_answers {}; retried:", ok.load(),
                  wrong.load(), refused.load(), gave_up.load(), lost_answers.load());
  for (const auto& [what, n] : attempts_) s += fmt::format(" [{}] x{}", what, n);
  for (const auto& p : problems_) s += "\n  " + p;
  return s;
}

void Tally::Keep(const ReleaseRequest& request) {
  std::lock_guard<std::mutex> lock(mu_);
  if (kept_.size() < 64) kept_.push_back(request);
}

std::vector<ReleaseRequest> Tally::TakeKept() {
  std::lock_guard<std::mutex> lock(mu_);
  return std::exchange(kept_, {});
}

void Tally::Problem(const std::string& message) {
  std::lock_guard<std::mutex> lock(mu_);
  if (problems_.size() < 8) problems_.push_back(message);
}

bool ReleaseWithRetry(ReleaseClient& client, const std::string& base, Api api,
                      const std::string& key_id, Tally& tally, std::chrono::seconds deadline) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  auto pause = [] { std::this_thread::sleep_for(std::chrono::milliseconds(200)); };
  // An earlier attempt of this request got no answer or a 503: the server may have released it
  // (and spent its nonce) without the client learning so, e.g. a replica killed after its commit.
  bool maybe_released = false;
  while (std::chrono::steady_clock::now() < until) {
    auto request = client.Prepare(base, api, key_id);
    if (!request) {  // /v1 could not get a server nonce (no replica ready): try again
      tally.Note("nonce request failed");
      pause();
      continue;
    }
    maybe_released = false;
    while (std::chrono::steady_clock::now() < until) {
      HttpReply reply = client.Send(base, *request);
      if (reply.status == 200) {
        if (auto checked = client.Check(*request, reply); checked) {
          ++tally.ok;
          tally.Keep(*request);
          return true;
        } else {
          ++tally.wrong;
          tally.Problem("wrong release: " + checked.error().ToString());
          return false;
        }
      }
      const std::string code = reply.Code();
      if (reply.status == 0) {
        tally.Note("no answer: " + reply.error);
        maybe_released = true;
        pause();
        continue;
      }
      tally.Note(fmt::format("{} {}", reply.status, code));
      if (reply.status == 503) {
        maybe_released = true;
        pause();
        continue;
      }
      if (maybe_released && (code == "nonce.reused" || code == "nonce.invalid")) {
        ++tally.lost_answers;  // released by the attempt whose answer was lost: a new request
        break;
      }
      ++tally.refused;
      tally.Problem(fmt::format("refused: {} {}", reply.status, reply.body.substr(0, 300)));
      return false;
    }
  }
  ++tally.gave_up;
  tally.Problem("gave up after " + std::to_string(deadline.count()) + " s");
  return false;
}

Load::Load(std::vector<std::unique_ptr<ReleaseClient>>& clients, std::string base,
           std::string key_id, Tally& tally)
    : tally_(tally) {
  for (size_t i = 0; i < clients.size(); ++i) {
    threads_.emplace_back([this, &client = *clients[i], base, key_id, i] {
      for (size_t n = i; !stop_.load(); ++n) {
        ReleaseWithRetry(client, base, n % 2 == 0 ? Api::kKmra : Api::kV1, key_id, tally_);
      }
    });
  }
}

Load::~Load() { Stop(); }

void Load::Stop() {
  stop_ = true;
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

bool Load::WaitForReleases(int more, std::chrono::seconds deadline) {
  const int target = tally_.ok.load() + more;
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (tally_.ok.load() < target) {
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return true;
}

}  // namespace kmra::scaleout
