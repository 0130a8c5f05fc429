#include "CosimSyncSubsystem.h"

#include "Components/DynamicMeshComponent.h"
#include "Components/StaticMeshComponent.h"
#include "Engine/StaticMesh.h"
#include "Engine/StaticMeshActor.h"
#include "Engine/Engine.h"
#include "Engine/World.h"
#include "HAL/IConsoleManager.h"
#include "ProfilingDebugging/CpuProfilerTrace.h"
#include "UDynamicMesh.h"

#include "CosimCoreLibraries.h"
#include "CosimReceiver.h"
#include "CosimSyncSettings.h"
#include "CosimVehicleTypes.h"
#include "CosimXrTiming.h"

DEFINE_LOG_CATEGORY_STATIC(LogCosim, Log, All);

static constexpr int32 MaxPooledVehicles = 512;

static TAutoConsoleVariable<int32> CVarCosimHud(
	TEXT("cosim.Hud"), 0,
	TEXT("1: show the Cosim Sync debug line on screen (connection, frame, frames behind, clock offset, scene)"),
	ECVF_Default);

// Game-thread state; never seen by the receiver thread.
struct FCosimGameState
{
	TUniquePtr<FCosimReceiver> Receiver;
	// vehicles, traffic lights, the refiner's asset and residuals, and what to ask for: engine-neutral
	// (cosim/scene.h), the same class the CLI client drives in CI
	std::unique_ptr<cosim::SceneState> Scene;
	TMap<uint32, TWeakObjectPtr<AStaticMeshActor>> Actors;
	// actors of despawned vehicles, hidden, reused for the next spawns (a city's turnover would
	// otherwise spawn and destroy actors every frame)
	TArray<TWeakObjectPtr<AStaticMeshActor>> Pool;
	std::vector<std::pair<cosim::Tick, int64>> PendingTicks;  // (tick, recv_ns) consumed this frame
	FName GarmentAsset;
	TWeakObjectPtr<UDynamicMeshComponent> Garment;
	TArray<float> GarmentBase;     // registered rest positions, x y z per vertex
	TArray<float> GarmentScratch;
	int64 InterpolationDelayNs = 0;
	int64 VsyncToPhotonNs = 0;
	std::unique_ptr<cosim::DisplayModel> Display;  // used when XR gives no display time
	cosim::MtpTracker Mtp;
	bool bReportFrames = true;
	float ResidualScale = 100.0f;
	FString EndReason;
	int64 LastFrame = -1;  // the newest tick shown
};

UCosimSyncSubsystem::UCosimSyncSubsystem() = default;
UCosimSyncSubsystem::UCosimSyncSubsystem(FVTableHelper& Helper) : Super(Helper) {}
UCosimSyncSubsystem::~UCosimSyncSubsystem() = default;

bool UCosimSyncSubsystem::ShouldCreateSubsystem(UObject* Outer) const
{
	const UWorld* World = Cast<UWorld>(Outer);
	return World != nullptr && World->IsGameWorld();
}

void UCosimSyncSubsystem::OnWorldBeginPlay(UWorld& InWorld)
{
	Super::OnWorldBeginPlay(InWorld);
	if (GetDefault<UCosimSyncSettings>()->bAutoConnect)
	{
		Connect();
	}
}

void UCosimSyncSubsystem::Deinitialize()
{
	Disconnect();
	Super::Deinitialize();
}

TStatId UCosimSyncSubsystem::GetStatId() const
{
	RETURN_QUICK_DECLARE_CYCLE_STAT(UCosimSyncSubsystem, STATGROUP_Tickables);
}

bool UCosimSyncSubsystem::Connect()
{
	Disconnect();
	if (!CosimZmqLoaded())
	{
		UE_LOG(LogCosim, Error, TEXT("Cosim: libzmq is not loaded (see the CosimCore log line above); not connecting"));
		return false;
	}
	const UCosimSyncSettings* S = GetDefault<UCosimSyncSettings>();
	State = MakeUnique<FCosimGameState>();
	State->InterpolationDelayNs = static_cast<int64>(S->InterpolationDelayUs) * 1000;
	State->VsyncToPhotonNs = static_cast<int64>(S->VsyncToPhotonUs) * 1000;
	State->bReportFrames = S->bReportFrames;
	State->ResidualScale = S->ResidualScale;
	State->GarmentAsset = S->GarmentAsset;
	cosim::SceneOptions SceneOptions;
	SceneOptions.area = S->bAreaOfInterest;
	SceneOptions.garment_asset = TCHAR_TO_UTF8(*S->GarmentAsset.ToString());
	SceneOptions.pose_device = "";  // the HMD pose is read from the headset (CosimXr), not the bus
	SceneOptions.client_name = TCHAR_TO_UTF8(*S->ClientName);
	State->Scene = std::make_unique<cosim::SceneState>(SceneOptions);
	const int64 PeriodNs = static_cast<int64>(FMath::RoundToDouble(1e9 / FMath::Max(1.0f, S->RefreshHz)));
	State->Display = std::make_unique<cosim::DisplayModel>(PeriodNs, 0, State->VsyncToPhotonNs);
	if (UCosimVehicleTypes* Types = S->VehicleTypes.LoadSynchronous())
	{
		for (const auto& Pair : Types->Meshes)
		{
			LoadedMeshes.Add(Pair.Key, Pair.Value.LoadSynchronous());
		}
		LoadedFallbackMesh = Types->Fallback.LoadSynchronous();
	}

	cosim::Endpoints Endpoints{TCHAR_TO_UTF8(*S->ControlEndpoint), TCHAR_TO_UTF8(*S->TicksEndpoint),
	                           TCHAR_TO_UTF8(*S->BusInEndpoint), TCHAR_TO_UTF8(*S->BusOutEndpoint)};
	cosim::LinkOptions Options;
	Options.name = TCHAR_TO_UTF8(*S->ClientName);
	Options.role = "client";
	Options.required = S->bRequired;
	Options.data_topics = State->Scene->topics();
	Options.publish = true;
	Options.host = TCHAR_TO_UTF8(FPlatformProcess::ComputerName());
	FString Error;
	State->Receiver = FCosimReceiver::Start(Endpoints, Options, S->PollTimeoutMs, Error);
	if (!State->Receiver)
	{
		UE_LOG(LogCosim, Error, TEXT("Cosim: cannot join the session at %s: %s"), *S->ControlEndpoint, *Error);
		State.Reset();
		return false;
	}
	UE_LOG(LogCosim, Log, TEXT("Cosim: joining %s as '%s'"), *S->ControlEndpoint, *S->ClientName);
	if (UDynamicMeshComponent* Mesh = RegisteredMesh.Get())
	{
		RegisterGarment(RegisteredAsset, Mesh);  // a reconnect keeps the garment
	}
	return true;
}

void UCosimSyncSubsystem::Disconnect()
{
	if (!State)
	{
		return;
	}
	CosimCloseInBackground(MoveTemp(State->Receiver));  // BYE and the sockets' linger off the game thread
	for (auto& Pair : State->Actors)
	{
		if (AStaticMeshActor* Actor = Pair.Value.Get())
		{
			Actor->Destroy();
		}
	}
	for (const TWeakObjectPtr<AStaticMeshActor>& Pooled : State->Pool)
	{
		if (AStaticMeshActor* Actor = Pooled.Get())
		{
			Actor->Destroy();
		}
	}
	UE_LOG(LogCosim, Log, TEXT("Cosim: left after %d frames"), static_cast<int32>(State->Mtp.frames()));
	State.Reset();
	LoadedMeshes.Empty();
	LoadedFallbackMesh = nullptr;
}

void UCosimSyncSubsystem::RegisterGarment(FName Asset, UDynamicMeshComponent* Mesh)
{
	if (Mesh == nullptr)
	{
		return;
	}
	RegisteredAsset = Asset;
	RegisteredMesh = Mesh;
	if (!State)
	{
		return;  // applied when Connect() makes the state
	}
	State->GarmentAsset = Asset;
	State->Scene->set_garment_asset(TCHAR_TO_UTF8(*Asset.ToString()));
	State->Garment = Mesh;
	State->GarmentBase.Reset();
	Mesh->GetDynamicMesh()->ProcessMesh([this](const UE::Geometry::FDynamicMesh3& M) {
		for (int32 Vid = 0; Vid < M.MaxVertexID(); ++Vid)
		{
			const FVector3d P = M.IsVertex(Vid) ? M.GetVertex(Vid) : FVector3d::ZeroVector;
			State->GarmentBase.Append({static_cast<float>(P.X), static_cast<float>(P.Y), static_cast<float>(P.Z)});
		}
	});
	State->GarmentScratch.SetNumUninitialized(State->GarmentBase.Num());
}

int64 UCosimSyncSubsystem::GetSessionTimeNs() const
{
	return (State && State->Receiver && State->Receiver->HasClock()) ? State->Receiver->SessionNowNs() : -1;
}

void UCosimSyncSubsystem::Tick(float DeltaTime)
{
	Super::Tick(DeltaTime);
	if (!State || !State->Receiver)
	{
		return;
	}
	TRACE_CPUPROFILER_EVENT_SCOPE(CosimTick);  // Unreal Insights: the plugin's whole per-frame work
	DrainInbound();
	FQuat HmdOrientation;
	FVector HmdPosition;
	const bool bPose = CosimXr::HmdPose(HmdOrientation, HmdPosition);
	const int64 PoseSampleNs = bPose ? State->Receiver->SessionNowNs() : -1;
	int64 PresentNs = 0, PhotonNs = 0;
	DisplayTimes(PresentNs, PhotonNs);
	UpdateVehicles(PhotonNs - State->InterpolationDelayNs);
	ApplyGarment();
	ReportFrame(PoseSampleNs, PresentNs, PhotonNs);
	if (CVarCosimHud.GetValueOnGameThread() != 0 && GEngine != nullptr)
	{
		const std::string Line = State->Scene->hud_line(State->LastFrame, State->Receiver->HasClock());
		GEngine->AddOnScreenDebugMessage(static_cast<uint64>(0xC051A0), 0.0f, FColor::Cyan, UTF8_TO_TCHAR(Line.c_str()));
	}
	if (!State->EndReason.IsEmpty())
	{
		const FString Reason = State->EndReason;
		Disconnect();
		OnSessionEnded.Broadcast(Reason);  // game thread
	}
}

void UCosimSyncSubsystem::DrainInbound()
{
	TRACE_CPUPROFILER_EVENT_SCOPE(CosimDrainInbound);
	FString Error;
	while (State->Receiver->DequeueError(Error))
	{
		UE_LOG(LogCosim, Warning, TEXT("Cosim: %s"), *Error);
	}
	cosim::Inbound In;
	while (State->Receiver->Dequeue(In))
	{
		switch (In.kind)
		{
		case cosim::Inbound::Kind::kTick:
			State->PendingTicks.emplace_back(std::get<cosim::Tick>(In.msg.msg), In.recv_ns);
			break;
		case cosim::Inbound::Kind::kEnd:
			State->EndReason = UTF8_TO_TCHAR(std::get<cosim::End>(In.msg.msg).reason.c_str());
			break;
		case cosim::Inbound::Kind::kData:
		{
			// decode has checked the message; the scene checks its arrays and keeps what it held on an error
			const cosim::Outcome Taken = State->Scene->on_data(In.msg, In.recv_ns);
			if (!Taken)
			{
				UE_LOG(LogCosim, Warning, TEXT("Cosim: %s"), UTF8_TO_TCHAR(Taken.error().c_str()));
			}
			break;
		}
		case cosim::Inbound::Kind::kSession:
			State->Scene->on_session(In.msg);  // STATUS: this client's frames behind and clock offset, for the HUD
			break;
		}
	}
}

void UCosimSyncSubsystem::DisplayTimes(int64& OutPresentNs, int64& OutPhotonNs)
{
	int64 PhotonLocalNs = 0;
	if (CosimXr::PredictedPhotonLocalNs(PhotonLocalNs))
	{
		OutPhotonNs = State->Receiver->LocalToSessionNs(PhotonLocalNs);
		OutPresentNs = OutPhotonNs - State->VsyncToPhotonNs;
		return;
	}
	const cosim::Presented Shown = State->Display->present(State->Receiver->SessionNowNs());
	OutPresentNs = Shown.present_ns;
	OutPhotonNs = Shown.photon_ns;
}

void UCosimSyncSubsystem::UpdateVehicles(int64 RenderSessionNs)
{
	TRACE_CPUPROFILER_EVENT_SCOPE(CosimUpdateVehicles);
	UWorld* World = GetWorld();
	const cosim::VehicleChanges Changes = State->Scene->take_changes();
	for (uint32 Handle : Changes.despawned)
	{
		TWeakObjectPtr<AStaticMeshActor> Actor;
		if (State->Actors.RemoveAndCopyValue(Handle, Actor) && Actor.IsValid())
		{
			if (State->Pool.Num() < MaxPooledVehicles)
			{
				Actor->SetActorHiddenInGame(true);
				State->Pool.Add(Actor);
			}
			else
			{
				Actor->Destroy();
			}
		}
	}
	for (uint32 Handle : Changes.spawned)
	{
		const cosim::VehicleInfo* Info = State->Scene->vehicles().info(Handle);
		const TObjectPtr<UStaticMesh>* Mesh = Info ? LoadedMeshes.Find(FName(UTF8_TO_TCHAR(Info->type.c_str()))) : nullptr;
		UStaticMesh* Chosen = Mesh ? Mesh->Get() : LoadedFallbackMesh.Get();
		AStaticMeshActor* Actor = nullptr;
		while (Actor == nullptr && State->Pool.Num() > 0)
		{
			Actor = State->Pool.Pop().Get();  // a pooled actor the level may have destroyed
		}
		if (Actor == nullptr)
		{
			FActorSpawnParameters Params;
			Params.SpawnCollisionHandlingOverride = ESpawnActorCollisionHandlingMethod::AlwaysSpawn;
			Actor = World->SpawnActor<AStaticMeshActor>(FVector::ZeroVector, FRotator::ZeroRotator, Params);
			if (Actor == nullptr)
			{
				continue;
			}
			Actor->GetStaticMeshComponent()->SetMobility(EComponentMobility::Movable);
			Actor->SetActorEnableCollision(false);  // drawn traffic: SUMO moves it, nothing collides with it
		}
		Actor->GetStaticMeshComponent()->SetStaticMesh(Chosen);
		Actor->SetActorHiddenInGame(false);
		State->Actors.Add(Handle, Actor);
	}
	for (auto& Pair : State->Actors)
	{
		AStaticMeshActor* Actor = Pair.Value.Get();
		const std::optional<cosim::VehicleState> S = State->Scene->vehicles().evaluate(Pair.Key, RenderSessionNs);
		if (Actor == nullptr || !S)
		{
			continue;
		}
		// Already Unreal units and axes (cosim/units.h is the one conversion, done by the bridge); the
		// actor's pivot is the body's centre, half its length behind SUMO's front-bumper point.
		const cosim::Vec3 Centre = cosim::body_centre_cm(*S, State->Scene->vehicles().info(Pair.Key));
		Actor->SetActorLocationAndRotation(FVector(Centre[0], Centre[1], Centre[2]),
		                                   FRotator(S->pitch_deg, S->yaw_deg, 0.0));
	}
	for (const std::string& What : State->Scene->requests(State->Receiver->SessionNowNs()))
	{
		cosim::Request Ask;  // a late joiner's id table, the lights, the refiner's asset: at most once a second each
		Ask.what = What;
		State->Receiver->Publish(cosim::topic::kRequest, MoveTemp(Ask));
	}
	for (const auto& Change : State->Scene->take_light_changes())
	{
		OnTrafficLightChanged.Broadcast(UTF8_TO_TCHAR(Change.first.c_str()), UTF8_TO_TCHAR(Change.second.c_str()));
	}
}

FString UCosimSyncSubsystem::GetTrafficLightState(const FString& Id) const
{
	const std::string* Found = State ? State->Scene->lights().state(TCHAR_TO_UTF8(*Id)) : nullptr;
	return Found ? FString(UTF8_TO_TCHAR(Found->c_str())) : FString();
}

void UCosimSyncSubsystem::ApplyGarment()
{
	TRACE_CPUPROFILER_EVENT_SCOPE(CosimApplyGarment);
	UDynamicMeshComponent* Mesh = State->Garment.Get();
	if (Mesh == nullptr)
	{
		return;
	}
	const size_t Vertices = static_cast<size_t>(State->GarmentBase.Num() / 3);
	const cosim::Result<bool> Applied = State->Scene->apply_garment(State->GarmentBase.GetData(), Vertices,
	                                                                State->ResidualScale, State->GarmentScratch.GetData());
	if (!Applied)
	{
		UE_LOG(LogCosim, Warning, TEXT("Cosim: %s"), UTF8_TO_TCHAR(Applied.error().c_str()));
		return;
	}
	if (!Applied.value())
	{
		return;  // no new frame, or the asset is not announced yet (the scene asks for it)
	}
	const float* P = State->GarmentScratch.GetData();
	Mesh->GetDynamicMesh()->EditMesh([P](UE::Geometry::FDynamicMesh3& M) {
		for (int32 Vid = 0; Vid < M.MaxVertexID(); ++Vid)
		{
			if (M.IsVertex(Vid))
			{
				M.SetVertex(Vid, FVector3d(P[3 * Vid], P[3 * Vid + 1], P[3 * Vid + 2]));
			}
		}
	}, EDynamicMeshChangeType::DeformationEdit, EDynamicMeshAttributeChangeFlags::VertexPositions);
}

void UCosimSyncSubsystem::ReportFrame(int64 PoseSampleNs, int64 PresentNs, int64 PhotonNs)
{
	cosim::FrameTimes Times;  // this frame's display times, per tick shown in it
	Times.present_ns = PresentNs;
	Times.photon_ns = PhotonNs;
	if (PoseSampleNs >= 0)
	{
		Times.pose_sample_ns = PoseSampleNs;
	}
	for (const auto& [Tick, RecvNs] : State->PendingTicks)
	{
		FCosimOutbound Ack;
		Ack.Kind = FCosimOutbound::EKind::Ack;
		Ack.Tick = Tick;
		Ack.RecvNs = RecvNs;
		Ack.PresentNs = PresentNs;
		Ack.PhotonNs = PhotonNs;
		State->Receiver->Send(MoveTemp(Ack));
		Times.frame = Tick.frame;
		State->LastFrame = Tick.frame;
		Times.tick_ns = Tick.t_ns;
		Times.recv_ns = RecvNs;
		State->Mtp.record(Times);
	}
	if (State->bReportFrames && !State->PendingTicks.empty())
	{
		cosim::FrameReport Report = cosim::frame_report(Times);  // the newest tick's
		if (State->Scene->applied_frame() >= 0)
		{
			Report.residual_frame = State->Scene->applied_frame();
		}
		State->Receiver->Publish(cosim::topic::kFrames, MoveTemp(Report));
	}
	State->PendingTicks.clear();
}
