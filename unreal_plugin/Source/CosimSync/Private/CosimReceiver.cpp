#include "CosimReceiver.h"

#include "Async/Async.h"
#include "HAL/PlatformProcess.h"
#include "HAL/PlatformTime.h"
#include "HAL/RunnableThread.h"

namespace
{
std::atomic<int32> GBackgroundCloses{0};
}

void CosimCloseInBackground(TUniquePtr<FCosimReceiver> Receiver)
{
	if (!Receiver)
	{
		return;
	}
	GBackgroundCloses.fetch_add(1, std::memory_order_acq_rel);
	// a thread of its own: the close may wait on the network, which a task-graph worker must not
	Async(EAsyncExecution::Thread, [Closing = MoveTemp(Receiver)]() mutable
	{
		Closing.Reset();
		GBackgroundCloses.fetch_sub(1, std::memory_order_acq_rel);
	});
}

void CosimWaitForBackgroundCloses(double TimeoutS)
{
	const double Deadline = FPlatformTime::Seconds() + TimeoutS;
	while (GBackgroundCloses.load(std::memory_order_acquire) > 0 && FPlatformTime::Seconds() < Deadline)
	{
		FPlatformProcess::Sleep(0.01f);
	}
}

TUniquePtr<FCosimReceiver> FCosimReceiver::Start(const cosim::Endpoints& Endpoints, const cosim::LinkOptions& Options,
                                                 int32 PollTimeoutMs, FString& OutError)
{
	auto Opened = cosim::Link::open(Endpoints, Options);
	if (!Opened)
	{
		OutError = UTF8_TO_TCHAR(Opened.error().c_str());
		return nullptr;
	}
	TUniquePtr<FCosimReceiver> Receiver(new FCosimReceiver());
	Receiver->Link = Opened.take();
	auto Waker = Receiver->Link->make_waker();
	if (!Waker)
	{
		OutError = UTF8_TO_TCHAR(Waker.error().c_str());
		return nullptr;
	}
	Receiver->Waker = Waker.take();
	Receiver->PollTimeoutMs = FMath::Clamp(PollTimeoutMs, 1, 100);
	// Thread creation is a full barrier: the sockets made here are used only by the new thread from now on.
	Receiver->Thread = FRunnableThread::Create(Receiver.Get(), TEXT("CosimReceiver"), 0, TPri_AboveNormal);
	if (Receiver->Thread == nullptr)
	{
		OutError = TEXT("could not start the receiver thread");
		return nullptr;
	}
	return Receiver;
}

FCosimReceiver::~FCosimReceiver()
{
	if (Thread != nullptr)
	{
		Stop();
		if (Waker)
		{
			Waker->notify();
		}
		Thread->WaitForCompletion();  // returns within PollTimeoutMs: the thread never blocks longer
		delete Thread;
		Thread = nullptr;
	}
	Waker.reset();  // before the Link: its context waits for every socket to close
	Link.reset();
}

void FCosimReceiver::Send(FCosimOutbound&& Out)
{
	Outbound.Enqueue(MoveTemp(Out));
	Waker->notify();
}

uint32 FCosimReceiver::Run()
{
	std::vector<cosim::Inbound> Inbox;
	bool bReadySent = false;
	cosim::Outcome Sent = Link->hello();
	if (!Sent)
	{
		Errors.Enqueue(FString(UTF8_TO_TCHAR(Sent.error().c_str())));
	}
	while (!bStopping.load(std::memory_order_acquire))
	{
		Inbox.clear();
		const cosim::Outcome Polled = Link->poll(PollTimeoutMs, Inbox);
		if (!Polled)
		{
			Errors.Enqueue(FString(UTF8_TO_TCHAR(Polled.error().c_str())));
			if (Link->rejected())
			{
				break;
			}
		}
		if (Link->welcomed())
		{
			SessionMinusLocalNs.store(Link->session_ns(0), std::memory_order_release);
			bClockValid.store(Link->offset().offset_ns().has_value(), std::memory_order_release);
		}
		if (!bReadySent && Link->first_burst_done() && Link->saw_broadcast())
		{
			Sent = Link->ready();
			bReadySent = Sent.is_ok();
		}
		for (cosim::Inbound& In : Inbox)
		{
			Inbound.Enqueue(MoveTemp(In));
		}
		FCosimOutbound Out;
		while (Outbound.Dequeue(Out))
		{
			Sent = Out.Kind == FCosimOutbound::EKind::Ack
				? Link->ack(Out.Tick, Out.RecvNs, Out.PresentNs, Out.PhotonNs)
				: Link->publish(Out.Topic, std::move(Out.Msg));
			if (!Sent)
			{
				Errors.Enqueue(FString(UTF8_TO_TCHAR(Sent.error().c_str())));
			}
		}
	}
	Link->bye("stopped");
	return 0;
}
