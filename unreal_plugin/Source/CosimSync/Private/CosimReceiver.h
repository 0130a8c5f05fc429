// The receiver thread. It alone owns the cosim::Link (all ZeroMQ sockets of the session) while it
// runs; it polls with a timeout (Settings.PollTimeoutMs) so Stop() always takes effect, stamps
// receive times in int64 ns (the Link does, on arrival), and hands decoded plain structs to the
// game thread through a single-producer/single-consumer TQueue. The game thread's ACKs and reports
// come back through a second SPSC queue, and a Waker (an inproc socket used only by the game
// thread) cuts the receiver's wait short so an ACK leaves at once. No delegate or UObject is
// touched here; the only state shared with the game thread is the two queues and atomics.
#pragma once

#include "CoreMinimal.h"
#include "Containers/Queue.h"
#include "HAL/Runnable.h"
#include "Templates/UniquePtr.h"

#include <atomic>
#include <memory>
#include <string>
#include <string_view>

#include "cosim/core.h"

struct FCosimOutbound
{
	enum class EKind : uint8 { Ack, Publish };
	EKind Kind = EKind::Ack;
	cosim::Tick Tick;  // Ack: the tick acknowledged
	int64 RecvNs = 0;
	int64 PresentNs = 0;
	int64 PhotonNs = 0;
	std::string Topic;  // Publish: topic and message
	cosim::Message Msg;
};

class FCosimReceiver final : public FRunnable
{
public:
	// Opens the sockets (game thread) and starts the thread; nullptr and OutError on failure.
	static TUniquePtr<FCosimReceiver> Start(const cosim::Endpoints& Endpoints, const cosim::LinkOptions& Options,
	                                        int32 PollTimeoutMs, FString& OutError);
	virtual ~FCosimReceiver() override;  // Stop(), join, then close sockets (CosimCloseInBackground runs it off the game thread)

	virtual uint32 Run() override;
	virtual void Stop() override { bStopping.store(true, std::memory_order_release); }

	// --- game thread only ---
	bool Dequeue(cosim::Inbound& Out) { return Inbound.Dequeue(Out); }
	bool DequeueError(FString& Out) { return Errors.Dequeue(Out); }
	void Send(FCosimOutbound&& Out);
	void Publish(std::string_view Topic, cosim::Message Msg)
	{
		FCosimOutbound Out;
		Out.Kind = FCosimOutbound::EKind::Publish;
		Out.Topic = std::string(Topic);
		Out.Msg = MoveTemp(Msg);
		Send(MoveTemp(Out));
	}

	// --- any thread ---
	bool HasClock() const { return bClockValid.load(std::memory_order_acquire); }
	int64 SessionNowNs() const { return LocalToSessionNs(cosim::mono_now_ns()); }
	int64 LocalToSessionNs(int64 LocalNs) const { return LocalNs + SessionMinusLocalNs.load(std::memory_order_acquire); }

private:
	FCosimReceiver() = default;

	TQueue<cosim::Inbound, EQueueMode::Spsc> Inbound;   // producer: receiver thread, consumer: game thread
	TQueue<FCosimOutbound, EQueueMode::Spsc> Outbound;  // producer: game thread, consumer: receiver thread
	TQueue<FString, EQueueMode::Spsc> Errors;           // producer: receiver thread, consumer: game thread
	std::unique_ptr<cosim::Link> Link;    // receiver thread only, while the thread runs
	std::unique_ptr<cosim::Waker> Waker;  // game thread only
	std::atomic<bool> bStopping{false};
	std::atomic<bool> bClockValid{false};
	std::atomic<int64> SessionMinusLocalNs{0};  // offset - epoch, one value so readers never see a torn pair
	FRunnableThread* Thread = nullptr;
	int32 PollTimeoutMs = 20;
};

// Stops and destroys a receiver off the game thread: its BYE and the sockets' linger can take up to
// a second when the syncserver is gone, which would freeze the headset's frames.
void CosimCloseInBackground(TUniquePtr<FCosimReceiver> Receiver);
// Waits (at most TimeoutS) for those closes; the module calls it before its code is unloaded.
void CosimWaitForBackgroundCloses(double TimeoutS);
