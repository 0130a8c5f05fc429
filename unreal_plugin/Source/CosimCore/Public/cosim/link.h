// Joining a session over ZeroMQ, as cosim/node does: a DEALER on the control channel
// (HELLO/WELCOME, READY, ACK, PROBE, HEARTBEAT, BYE), a SUB on the tick socket, optionally a SUB
// on the data bus and a PUB into it. Never blocks longer than the timeout given to poll(); clock
// probes and heartbeats run inside poll(). Not thread-safe: one thread owns a Link (in Unreal, the
// receiver FRunnable); other threads talk to it through queues and wake it with a Waker.
// Uses libzmq's C API, which reports errors by return code (cppzmq throws).
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cosim/clock.h"
#include "cosim/export.h"
#include "cosim/protocol.h"
#include "cosim/result.h"

namespace cosim {

struct Endpoints {
  std::string control, ticks, bus_in, bus_out;
};

// CURVE keys as Z85 text (40 characters each), as ZeroMQ's certificate files hold them.
struct CurveKeys {
  std::string server_public;
  std::string public_key;
  std::string secret_key;
  bool enabled() const { return !server_public.empty(); }
};

// The keys a client on this host uses, from a secrets folder made by `python -m cosim.curve`:
// DIR/server.key (the syncserver's public key) and DIR/clients/NAME.key_secret (this client's pair).
COSIMCORE_API Result<CurveKeys> load_curve_keys(const std::string& secrets_dir, const std::string& client = "client");

struct LinkOptions {
  std::string name;
  std::string role = "client";
  bool required = false;
  std::vector<std::string> data_topics;  // subscribe to these bus topics (prefixes)
  bool publish = false;                  // open a PUB into the bus
  std::string host;                      // empty: this machine's host name
  int64_t pid = 0;                       // 0: this process's id
  int64_t clock_skew_ns = 0;             // tests: shift the local clock by a known amount
  CurveKeys curve;                       // all three set: CURVE on every socket (docs/security.md)
};

// One received message: what it is, and when it arrived (local clock and session-time estimate).
struct Inbound {
  enum class Kind : uint8_t { kTick, kSession, kData, kEnd };
  Kind kind = Kind::kSession;
  Decoded msg;
  int64_t recv_local_ns = 0;
  int64_t recv_ns = 0;
};

struct LinkStats {
  int64_t ticks = 0;
  int64_t gaps = 0;  // frames missing from the received tick sequence
  int64_t decode_errors = 0;
  int64_t server_errors = 0;
  std::vector<int64_t> offset_errors_ns;  // per completed probe burst, when the truth is known
  std::string last_error;
};

// Wakes the Link's poll() from another thread; owned and used by that one other thread.
class COSIMCORE_API Waker {
 public:
  ~Waker();
  Waker(const Waker&) = delete;
  Waker& operator=(const Waker&) = delete;
  void notify();

 private:
  friend class Link;
  explicit Waker(void* socket) : socket_(socket) {}
  void* socket_;
};

class COSIMCORE_API Link {
 public:
  static Result<std::unique_ptr<Link>> open(const Endpoints& endpoints, const LinkOptions& options);
  ~Link();  // BYE (if joined and not said yet), then close sockets and context
  Link(const Link&) = delete;
  Link& operator=(const Link&) = delete;

  Outcome hello();
  // Wait up to timeout_ms (shortened when a heartbeat or probe is due), then drain every socket.
  Outcome poll(int timeout_ms, std::vector<Inbound>& out);
  Outcome ready();
  Outcome ack(const Tick& tick, int64_t recv_ns, std::optional<int64_t> present_ns,
              std::optional<int64_t> photon_ns);
  Outcome publish(std::string_view topic, Message msg, const std::vector<Array>& arrays = {});
  Outcome bye(const std::string& reason);
  // A waker for another thread; the Link must outlive it. At most one.
  Result<std::unique_ptr<Waker>> make_waker();

  bool welcomed() const { return welcome_.has_value(); }
  const std::optional<Welcome>& welcome() const { return welcome_; }
  bool first_burst_done() const { return welcome_ && probes_left_ == 0; }
  bool saw_broadcast() const { return saw_broadcast_; }
  bool ended() const { return ended_; }
  const std::optional<std::string>& rejected() const { return rejected_; }
  std::optional<int64_t> last_frame() const { return last_frame_; }

  int64_t local_now_ns() const;
  int64_t master_ns(int64_t local_ns) const;
  int64_t session_ns(int64_t local_ns) const;
  int64_t session_now_ns() const { return session_ns(local_now_ns()); }
  const OffsetEstimator& offset() const { return offset_; }
  std::optional<int64_t> true_offset_ns() const;  // known only on the syncserver's host
  const LinkStats& stats() const { return stats_; }

 private:
  Link() = default;
  Outcome send(void* socket, std::string_view topic, Message msg, const std::vector<Array>& arrays = {});
  Outcome send_control(Message msg) { return send(dealer_, topic::kControl, std::move(msg)); }
  void housekeeping();
  void start_burst();
  Outcome send_probe();
  // Decodes one received message; a malformed one is counted in stats_, remembered and dropped.
  std::optional<Decoded> decode_or_drop(const std::vector<std::string>& frames, Channel channel, const char* what,
                                        size_t max_bytes = kMaxMessageBytes);
  Inbound inbound(Inbound::Kind kind, Decoded&& msg, int64_t recv_local) const;
  void on_control(const std::vector<std::string>& frames, int64_t t3);
  void on_broadcast(const std::vector<std::string>& frames, int64_t recv_local, std::vector<Inbound>& out);
  void on_bus(const std::vector<std::string>& frames, int64_t recv_local, std::vector<Inbound>& out);

  LinkOptions options_;
  void* ctx_ = nullptr;
  void* dealer_ = nullptr;
  void* ticks_ = nullptr;
  void* bus_sub_ = nullptr;
  void* bus_pub_ = nullptr;
  void* wake_ = nullptr;
  std::string wake_endpoint_;
  std::optional<Welcome> welcome_;
  std::optional<std::string> rejected_;
  std::optional<int64_t> epoch_ns_;
  std::optional<int64_t> last_frame_;
  OffsetEstimator offset_;
  uint32_t probe_seq_ = 0;
  std::vector<std::pair<uint32_t, int64_t>> probe_pending_;
  int64_t probe_sent_local_ = 0;
  int probes_left_ = 0;
  int64_t next_probe_ns_ = 0;
  int64_t next_heartbeat_ns_ = 0;
  bool saw_broadcast_ = false;
  bool same_host_ = false;
  bool said_bye_ = false;
  bool ended_ = false;
  LinkStats stats_;
};

}  // namespace cosim
