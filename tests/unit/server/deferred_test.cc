// Deferred answers (http.h Deferred): a handler hands the answer to another thread. The exchange
// (sans-I/O) keeps HTTP/1.1 order: nothing after the deferred request is parsed or answered before
// it. The listener posts the answer back to its connection, serves other connections meanwhile, and
// neither a client that leaves nor a listener that stops while an answer is pending crashes it.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

#include "listener_fixture.h"
#include "server/http_exchange.h"
#include "server/json.h"

namespace kmra::server {
namespace {

using testing::Https;

// Hands out the deferred answers of "/later" requests and keeps them until the test completes them.
class Parked {
 public:
  Response Handle(Request& req) {
    if (req.path != "/later") return JsonResponse(200, Json{{"path", req.path}});
    auto deferred = std::make_shared<Deferred>();
    {
      std::lock_guard<std::mutex> lock(mu_);
      parked_.push_back(deferred);
    }
    cv_.notify_all();
    Response later;
    later.deferred = deferred;
    return later;
  }
  // Waits until `n` answers were deferred in all.
  void WaitFor(std::size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return parked_.size() >= n; });
  }
  void Complete(std::size_t i, const std::string& text) {
    std::shared_ptr<Deferred> d;
    {
      std::lock_guard<std::mutex> lock(mu_);
      d = parked_.at(i);
    }
    d->Complete(JsonResponse(200, Json{{"later", text}}));
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::shared_ptr<Deferred>> parked_;
};

TEST(DeferredExchangeTest, PipelinedRequestsWaitForTheDeferredAnswer) {
  Parked parked;
  Handler handler = [&](Request& r) { return parked.Handle(r); };
  HttpExchange ex({}, &handler, "127.0.0.1:1", {});
  auto out = ex.Feed(
      "GET /now HTTP/1.1\r\nHost: a\r\n\r\nGET /later HTTP/1.1\r\nHost: a\r\n\r\n"
      "GET /after HTTP/1.1\r\nHost: a\r\n\r\n");
  // The request before is answered; the one after is not, and not even handled yet.
  EXPECT_EQ(out.completed, 1);
  EXPECT_NE(out.bytes.find("/now"), std::string::npos);
  EXPECT_EQ(out.bytes.find("/after"), std::string::npos);
  ASSERT_TRUE(out.deferred);
  EXPECT_TRUE(ex.Awaiting());
  // More bytes while waiting are kept, not answered.
  auto more = ex.Feed("GET /last HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_TRUE(more.bytes.empty());
  EXPECT_EQ(more.completed, 0);
  // The answer comes back: it is written first, then the requests that waited, in order.
  std::optional<Response> answer;
  out.deferred->OnComplete([&](Response r) { answer = std::move(r); });
  parked.Complete(0, "done");
  ASSERT_TRUE(answer.has_value());
  auto resumed = ex.Resume(std::move(*answer));
  EXPECT_EQ(resumed.completed, 3);
  EXPECT_FALSE(resumed.close);
  const auto later = resumed.bytes.find("\"later\":\"done\"");
  const auto after = resumed.bytes.find("/after");
  const auto last = resumed.bytes.find("/last");
  ASSERT_NE(later, std::string::npos) << resumed.bytes;
  ASSERT_NE(after, std::string::npos) << resumed.bytes;
  ASSERT_NE(last, std::string::npos) << resumed.bytes;
  EXPECT_LT(later, after);
  EXPECT_LT(after, last);
  EXPECT_FALSE(ex.Awaiting());
  // A stray Resume (no answer awaited) writes nothing.
  EXPECT_TRUE(ex.Resume(JsonResponse(200, Json::object())).bytes.empty());
}

TEST(DeferredExchangeTest, ConnectionCloseIsKeptAfterADeferredAnswer) {
  Parked parked;
  Handler handler = [&](Request& r) { return parked.Handle(r); };
  HttpExchange ex({}, &handler, "127.0.0.1:1", {});
  auto out = ex.Feed("GET /later HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  ASSERT_TRUE(out.deferred);
  EXPECT_FALSE(out.close);
  auto resumed = ex.Resume(JsonResponse(200, Json{{"later", "x"}}));
  EXPECT_TRUE(resumed.close);
  EXPECT_NE(resumed.bytes.find("Connection: close"), std::string::npos);
}

class DeferredListenerTest : public ListenerTest {
 protected:
  // One I/O thread: a handler that blocked it would block every connection.
  void SetUp() override {
    Start([this](Request& r) { return parked_.Handle(r); }, 1);
  }
  void TearDown() override { listener_.reset(); }  // before parked_, which its handler uses
  Parked parked_;
};

TEST_F(DeferredListenerTest, OtherConnectionsAreServedWhileAnAnswerIsDeferred) {
  testing::HttpResult slow;
  std::thread waiting([&] { slow = Https(Call("/later")); });
  parked_.WaitFor(1);
  // The only I/O thread is free: another connection is answered while the first one waits.
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Https(Call("/now")).status, 200);
  parked_.Complete(0, "from another thread");
  waiting.join();
  EXPECT_EQ(slow.status, 200);
  EXPECT_NE(slow.body.find("from another thread"), std::string::npos) << slow.body;
}

TEST_F(DeferredListenerTest, AnswerAfterTheListenerStoppedIsDroppedSafely) {
  std::thread waiting([&] { (void)Https(Call("/later")); });
  parked_.WaitFor(1);
  listener_->Stop();
  // Posted to an io_context that no longer runs: dropped with it.
  parked_.Complete(0, "to a stopped listener");
  listener_.reset();
  waiting.join();                                            // the client sees its connection end
  parked_.Complete(0, "twice, to a listener that is gone");  // only the first Complete counts
}

TEST_F(DeferredListenerTest, AnswerAfterTheListenerIsGoneIsDroppedSafely) {
  std::thread waiting([&] { (void)Https(Call("/later")); });
  parked_.WaitFor(1);
  listener_.reset();  // stops and destroys the io_context with the answer still pending
  waiting.join();
  parked_.Complete(0, "to nobody");
  Start([this](Request& r) { return parked_.Handle(r); }, 1);
  EXPECT_EQ(Https(Call("/now")).status, 200);
}

}  // namespace
}  // namespace kmra::server
