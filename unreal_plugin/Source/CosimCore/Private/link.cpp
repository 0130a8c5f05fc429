#include "cosim/link.h"

#include <zmq.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>

#if defined(_WIN32)
#include <process.h>
#else
#include <unistd.h>
#endif

namespace cosim {

namespace {

constexpr int64_t kProbeRetryNs = 100'000'000;  // a probe without reply for this long was lost

std::string zerr(const char* what) { return std::string(what) + ": " + zmq_strerror(zmq_errno()); }

std::string local_host_name() {
#if defined(_WIN32)
  return {};  // the Unreal glue passes FPlatformProcess::ComputerName()
#else
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return {};
  return buf;
#endif
}

int64_t local_pid() {
#if defined(_WIN32)
  return _getpid();
#else
  return static_cast<int64_t>(getpid());
#endif
}

// Receives one whole multipart message if one is waiting; false when none is (or on error).
bool recv_multipart(void* socket, std::vector<std::string>& frames) {
  frames.clear();
  int flags = ZMQ_DONTWAIT;
  for (;;) {
    zmq_msg_t part;
    zmq_msg_init(&part);
    if (zmq_msg_recv(&part, socket, flags) < 0) {
      zmq_msg_close(&part);
      return false;
    }
    frames.emplace_back(static_cast<const char*>(zmq_msg_data(&part)), zmq_msg_size(&part));
    const bool more = zmq_msg_more(&part) != 0;
    zmq_msg_close(&part);
    if (!more) return true;
    flags = 0;  // the remaining parts of a message arrive atomically with the first
  }
}

std::vector<std::string_view> views(const std::vector<std::string>& frames) {
  return std::vector<std::string_view>(frames.begin(), frames.end());
}

std::atomic<int> g_link_counter{0};

}  // namespace

// --- Waker -------------------------------------------------------------------------------------

Waker::~Waker() {
  if (socket_) zmq_close(socket_);
}

void Waker::notify() {
  const char b = 1;
  zmq_send(socket_, &b, 1, ZMQ_DONTWAIT);  // a full pipe already means "wake up"
}

Result<std::unique_ptr<Waker>> Link::make_waker() {
  using R = Result<std::unique_ptr<Waker>>;
  if (wake_) return R::fail("this link already has a waker");
  wake_endpoint_ = "inproc://cosim-wake-" + std::to_string(g_link_counter.fetch_add(1));
  wake_ = zmq_socket(ctx_, ZMQ_PAIR);
  if (!wake_ || zmq_bind(wake_, wake_endpoint_.c_str()) != 0) return R::fail(zerr("waker bind"));
  void* other = zmq_socket(ctx_, ZMQ_PAIR);
  if (!other || zmq_connect(other, wake_endpoint_.c_str()) != 0) return R::fail(zerr("waker connect"));
  int linger = 0;
  zmq_setsockopt(other, ZMQ_LINGER, &linger, sizeof linger);
  return std::unique_ptr<Waker>(new Waker(other));
}

// --- Link: lifecycle ---------------------------------------------------------------------------

Result<std::unique_ptr<Link>> Link::open(const Endpoints& endpoints, const LinkOptions& options) {
  using R = Result<std::unique_ptr<Link>>;
  if (options.name.empty()) return R::fail("a client needs a name");
  std::unique_ptr<Link> link(new Link());
  link->options_ = options;
  if (link->options_.host.empty()) link->options_.host = local_host_name();
  if (link->options_.pid == 0) link->options_.pid = local_pid();
  link->ctx_ = zmq_ctx_new();
  if (!link->ctx_) return R::fail(zerr("zmq context"));
  const auto make = [&](int type, const std::string& endpoint, int linger, void*& out) -> Outcome {
    out = zmq_socket(link->ctx_, type);
    if (!out) return Outcome::fail(zerr("zmq socket"));
    zmq_setsockopt(out, ZMQ_LINGER, &linger, sizeof linger);
    const CurveKeys& k = options.curve;
    if (k.enabled() && (zmq_setsockopt(out, ZMQ_CURVE_SERVERKEY, k.server_public.data(), k.server_public.size()) != 0 ||
                        zmq_setsockopt(out, ZMQ_CURVE_PUBLICKEY, k.public_key.data(), k.public_key.size()) != 0 ||
                        zmq_setsockopt(out, ZMQ_CURVE_SECRETKEY, k.secret_key.data(), k.secret_key.size()) != 0))
      return Outcome::fail(zerr("CURVE keys (is libzmq built with CURVE support?)"));
    if (zmq_connect(out, endpoint.c_str()) != 0) return Outcome::fail(zerr(("connect " + endpoint).c_str()));
    return Outcome::ok();
  };
  Outcome ok = make(ZMQ_DEALER, endpoints.control, 500, link->dealer_);
  if (ok) ok = make(ZMQ_SUB, endpoints.ticks, 0, link->ticks_);
  if (!ok) return R::fail(ok.error());
  for (auto t : {topic::kTick, topic::kSession}) zmq_setsockopt(link->ticks_, ZMQ_SUBSCRIBE, t.data(), t.size());
  if (!options.data_topics.empty()) {
    ok = make(ZMQ_SUB, endpoints.bus_out, 0, link->bus_sub_);
    if (!ok) return R::fail(ok.error());
    for (const auto& t : options.data_topics) zmq_setsockopt(link->bus_sub_, ZMQ_SUBSCRIBE, t.data(), t.size());
  }
  if (options.publish) {
    ok = make(ZMQ_PUB, endpoints.bus_in, 1000, link->bus_pub_);
    if (!ok) return R::fail(ok.error());
  }
  return link;
}

Link::~Link() {
  if (welcome_ && !said_bye_ && !rejected_) bye("closed");
  for (void* s : {dealer_, ticks_, bus_sub_, bus_pub_, wake_})
    if (s) zmq_close(s);
  if (ctx_) zmq_ctx_term(ctx_);
}

// --- time --------------------------------------------------------------------------------------

int64_t Link::local_now_ns() const { return mono_now_ns() + options_.clock_skew_ns; }

int64_t Link::master_ns(int64_t local_ns) const { return local_ns + offset_.offset_ns().value_or(0); }

int64_t Link::session_ns(int64_t local_ns) const { return master_ns(local_ns) - epoch_ns_.value_or(0); }

std::optional<int64_t> Link::true_offset_ns() const {
  if (!same_host_) return std::nullopt;
  return -options_.clock_skew_ns;
}

// --- sending -----------------------------------------------------------------------------------

Outcome Link::send(void* socket, std::string_view topic, Message msg, const std::vector<Array>& arrays) {
  common(msg).src = options_.name;
  auto frames = encode(topic, std::move(msg), arrays);
  if (!frames) return Outcome::fail(frames.error());
  const auto& f = frames.value();
  for (size_t i = 0; i < f.size(); ++i) {
    const int flags = (i + 1 < f.size() ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT;
    if (zmq_send(socket, f[i].data(), f[i].size(), flags) < 0) return Outcome::fail(zerr("send"));
  }
  return Outcome::ok();
}

Outcome Link::hello() {
  Hello h;
  h.name = options_.name;
  h.role = options_.role;
  h.required = options_.required;
  h.host = options_.host;
  h.pid = options_.pid;
  return send_control(h);
}

Outcome Link::ready() { return send_control(Ready{}); }

Outcome Link::ack(const Tick& tick, int64_t recv_ns, std::optional<int64_t> present_ns,
                  std::optional<int64_t> photon_ns) {
  Ack a;
  a.frame = tick.frame;
  a.t_ns = tick.t_ns;
  a.recv_ns = recv_ns;
  a.done_ns = session_now_ns();
  a.present_ns = present_ns;
  a.photon_ns = photon_ns;
  return send_control(a);
}

Outcome Link::publish(std::string_view topic, Message msg, const std::vector<Array>& arrays) {
  if (!bus_pub_) return Outcome::fail("link '" + options_.name + "' was opened without publish");
  return send(bus_pub_, topic, std::move(msg), arrays);
}

Outcome Link::bye(const std::string& reason) {
  said_bye_ = true;
  Bye b;
  b.reason = reason;
  return send_control(b);
}

void Link::start_burst() {
  probes_left_ = offset_.burst();
  probe_pending_.clear();
  send_probe();
}

Outcome Link::send_probe() {
  probe_seq_ += 1;  // wraps at 2**32 like the Python client
  Probe p;
  p.seq = probe_seq_;
  p.t0 = local_now_ns();
  probe_sent_local_ = p.t0;
  probe_pending_.emplace_back(probe_seq_, p.t0);
  return send_control(p);
}

void Link::housekeeping() {
  if (!welcome_) return;
  const int64_t now = local_now_ns();
  if (now >= next_heartbeat_ns_) {
    next_heartbeat_ns_ = now + static_cast<int64_t>(welcome_->heartbeat_interval_s * 1e9);
    Heartbeat hb;
    hb.offset_ns = offset_.offset_ns();
    hb.rtt_ns = offset_.rtt_ns();
    const auto truth = true_offset_ns();
    if (hb.offset_ns && truth) hb.offset_error_ns = *hb.offset_ns - *truth;
    send_control(hb);
  }
  if (probes_left_ > 0 && !probe_pending_.empty() && now - probe_sent_local_ > kProbeRetryNs) {
    probe_pending_.clear();  // lost: move on with a fresh probe
    send_probe();
  }
  if (now >= next_probe_ns_ && probes_left_ == 0) {
    next_probe_ns_ = now + static_cast<int64_t>(welcome_->probe_interval_s * 1e9);
    start_burst();
  }
}

// --- receiving ---------------------------------------------------------------------------------

Outcome Link::poll(int timeout_ms, std::vector<Inbound>& out) {
  housekeeping();
  int64_t timeout = timeout_ms;
  if (welcome_) {
    const int64_t now = local_now_ns();
    int64_t due = std::min(next_heartbeat_ns_, next_probe_ns_);
    if (probes_left_ > 0) due = std::min(due, probe_sent_local_ + kProbeRetryNs);
    timeout = std::max<int64_t>(0, std::min<int64_t>(timeout_ms, (due - now) / 1'000'000 + 1));
  }
  zmq_pollitem_t items[4];
  void* sockets[4];
  int n = 0;
  for (void* s : {dealer_, ticks_, bus_sub_, wake_})
    if (s) {
      items[n] = {s, 0, ZMQ_POLLIN, 0};
      sockets[n++] = s;
    }
  if (zmq_poll(items, n, static_cast<long>(timeout)) < 0) {
    if (zmq_errno() == EINTR) return Outcome::ok();
    return Outcome::fail(zerr("poll"));
  }
  std::vector<std::string> frames;
  for (int i = 0; i < n; ++i) {
    if (!(items[i].revents & ZMQ_POLLIN)) continue;
    void* s = sockets[i];
    while (recv_multipart(s, frames)) {
      const int64_t recv_local = local_now_ns();
      if (s == dealer_) on_control(frames, recv_local);  // recv_local is the probe's t3
      else if (s == ticks_) on_broadcast(frames, recv_local, out);
      else if (s == bus_sub_) on_bus(frames, recv_local, out);
      // wake_: draining it is the whole point
    }
  }
  if (rejected_) return Outcome::fail("syncserver rejected '" + options_.name + "': " + *rejected_);
  return Outcome::ok();
}

std::optional<Decoded> Link::decode_or_drop(const std::vector<std::string>& frames, Channel channel,
                                            const char* what, size_t max_bytes) {
  auto decoded = decode(views(frames), channel, max_bytes);
  if (decoded) return decoded.take();
  ++stats_.decode_errors;
  stats_.last_error = std::string("dropped ") + what + ": " + decoded.error();
  return std::nullopt;
}

Inbound Link::inbound(Inbound::Kind kind, Decoded&& msg, int64_t recv_local) const {
  Inbound in;
  in.kind = kind;
  in.msg = std::move(msg);
  in.recv_local_ns = recv_local;
  in.recv_ns = session_ns(recv_local);
  return in;
}

void Link::on_control(const std::vector<std::string>& frames, int64_t t3) {
  auto decoded = decode_or_drop(frames, Channel::kControlReply, "control reply", kMaxControlBytes);
  if (!decoded) return;
  Message& msg = decoded->msg;
  if (auto* q = std::get_if<Probe>(&msg)) {  // the syncserver measuring our clock: answer at once
    ProbeReply reply;
    reply.seq = q->seq;
    reply.t0 = q->t0;
    reply.t1 = t3;
    reply.t2 = local_now_ns();
    send_control(reply);
  } else if (auto* r = std::get_if<ProbeReply>(&msg)) {
    auto it = std::find_if(probe_pending_.begin(), probe_pending_.end(),
                           [&](const auto& p) { return p.first == static_cast<uint32_t>(r->seq); });
    if (it == probe_pending_.end() || it->second != r->t0) return;
    probe_pending_.erase(it);
    if (offset_.add(ProbeSample{r->t0, r->t1, r->t2, t3})) {
      const auto truth = true_offset_ns();
      if (truth) stats_.offset_errors_ns.push_back(*offset_.offset_ns() - *truth);
    }
    if (probes_left_ > 0 && --probes_left_ > 0) send_probe();
  } else if (auto* w = std::get_if<Welcome>(&msg)) {
    welcome_ = *w;
    same_host_ = w->host == options_.host;
    offset_ = OffsetEstimator(static_cast<int>(w->probe_burst));
    if (w->epoch_ns) {
      epoch_ns_ = w->epoch_ns;
      last_frame_ = w->frame;
    }
    start_burst();
  } else if (auto* rj = std::get_if<Reject>(&msg)) {
    rejected_ = rj->reason;
  } else if (auto* e = std::get_if<Error>(&msg)) {
    ++stats_.server_errors;
    stats_.last_error = "syncserver reported an error for our message: " + e->reason;
  }
}

void Link::on_broadcast(const std::vector<std::string>& frames, int64_t recv_local, std::vector<Inbound>& out) {
  auto decoded = decode_or_drop(frames, Channel::kBroadcast, "broadcast");
  if (!decoded) return;
  saw_broadcast_ = true;
  Inbound::Kind kind = Inbound::Kind::kSession;
  if (const auto* t = std::get_if<Tick>(&decoded->msg)) {
    epoch_ns_ = t->epoch_ns;
    if (last_frame_ && t->frame > *last_frame_ + 1) stats_.gaps += t->frame - *last_frame_ - 1;
    last_frame_ = t->frame;
    ++stats_.ticks;
    kind = Inbound::Kind::kTick;
  } else if (const auto* s = std::get_if<Start>(&decoded->msg)) {
    epoch_ns_ = s->epoch_ns;
  } else if (std::holds_alternative<End>(decoded->msg)) {
    ended_ = true;
    kind = Inbound::Kind::kEnd;
  }
  out.push_back(inbound(kind, std::move(*decoded), recv_local));  // session time after any new epoch
}

void Link::on_bus(const std::vector<std::string>& frames, int64_t recv_local, std::vector<Inbound>& out) {
  auto decoded = decode_or_drop(frames, Channel::kBus, "bus message");
  if (decoded) out.push_back(inbound(Inbound::Kind::kData, std::move(*decoded), recv_local));
}

}  // namespace cosim

namespace cosim {

namespace {

// One key of a ZeroMQ certificate file (ZPL): `    public-key = "<40 Z85 characters>"`.
Result<std::string> zpl_key(const std::string& path, const char* name) {
  using R = Result<std::string>;
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return R::fail("CURVE: " + path + " does not exist (make keys with: python -m cosim.curve)");
  std::string text;
  char buf[512];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0 && text.size() < 65536) text.append(buf, n);
  std::fclose(f);
  const std::string key = std::string(name) + " = \"";
  const size_t at = text.find(key);
  if (at == std::string::npos || text.size() < at + key.size() + 41 || text[at + key.size() + 40] != '"')
    return R::fail("CURVE: " + path + " holds no " + name + " (not a ZeroMQ certificate?)");
  return text.substr(at + key.size(), 40);
}

}  // namespace

Result<CurveKeys> load_curve_keys(const std::string& secrets_dir, const std::string& client) {
  using R = Result<CurveKeys>;
  auto server = zpl_key(secrets_dir + "/server.key", "public-key");
  if (!server) return R::fail(server.error());
  const std::string pair = secrets_dir + "/clients/" + client + ".key_secret";
  auto pub = zpl_key(pair, "public-key");
  if (!pub) return R::fail(pub.error());
  auto sec = zpl_key(pair, "secret-key");
  if (!sec) return R::fail(sec.error());
  return CurveKeys{server.take(), pub.take(), sec.take()};
}

}  // namespace cosim
