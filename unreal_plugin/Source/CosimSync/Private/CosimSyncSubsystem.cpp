#include "CosimSyncSubsystem.h"

#include "Components/DynamicMeshComponent.h"
#include "Components/StaticMeshComponent.h"
#include "Engine/StaticMesh.h"
#include "Engine/StaticMeshActor.h"
#include "Engine/World.h"
#include "UDynamicMesh.h"

#include "CosimReceiver.h"
#include "CosimSyncSettings.h"
#include "CosimVehicleTypes.h"
#include "CosimXrTiming.h"

DEFINE_LOG_CATEGORY_STATIC(LogCosim, Log, All);

// Game-thread state; never seen by the receiver thread.
struct FCosimGameState
{
	TUniquePtr<FCosimReceiver> Receiver;
	cosim::VehicleScene Vehicles;
	cosim::TrafficLightStates Lights;
	bool bArea = false;  // the area of interest's topics instead of the whole table's
	int64 LastLightsRequestNs = INT64_MIN;
	TMap<uint32, TWeakObjectPtr<AStaticMeshActor>> Actors;
	std::vector<std::pair<cosim::Tick, int64>> PendingTicks;  // (tick, recv_ns) consumed this frame
	FName GarmentAsset;
	TWeakObjectPtr<UDynamicMeshComponent> Garment;
	TArray<float> GarmentBase;     // registered rest positions, x y z per vertex
	TArray<float> GarmentScratch;
	std::optional<cosim::AssetInfo> Asset;  // announced by the refiner (ASSET); residuals need it first
	std::optional<cosim::ResidualFrame> PendingResiduals;  // newest only
	int64 AppliedResidualFrame = -1;
	int64 LastIdsRequestNs = INT64_MIN;
	int64 LastAssetRequestNs = INT64_MIN;
	int64 InterpolationDelayNs = 0;
	int64 VsyncToPhotonNs = 0;
	std::unique_ptr<cosim::DisplayModel> Display;  // used when XR gives no display time
	cosim::MtpTracker Mtp;
	bool bReportFrames = true;
	float ResidualScale = 100.0f;
	FString EndReason;
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
	const UCosimSyncSettings* S = GetDefault<UCosimSyncSettings>();
	State = MakeUnique<FCosimGameState>();
	State->InterpolationDelayNs = static_cast<int64>(S->InterpolationDelayUs) * 1000;
	State->VsyncToPhotonNs = static_cast<int64>(S->VsyncToPhotonUs) * 1000;
	State->bReportFrames = S->bReportFrames;
	State->ResidualScale = S->ResidualScale;
	State->GarmentAsset = S->GarmentAsset;
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
	State->bArea = S->bAreaOfInterest;
	Options.data_topics = {std::string(State->bArea ? cosim::topic::kAreaVehicles : cosim::topic::kVehicles),
	                       std::string(State->bArea ? cosim::topic::kAreaIds : cosim::topic::kVehicleIds),
	                       std::string(cosim::topic::kTrafficLights), std::string(cosim::topic::kResiduals),
	                       std::string(cosim::topic::kAsset)};
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
	return true;
}

void UCosimSyncSubsystem::Disconnect()
{
	if (!State)
	{
		return;
	}
	State->Receiver.Reset();  // stops and joins the thread, says BYE, closes the sockets
	for (auto& Pair : State->Actors)
	{
		if (AStaticMeshActor* Actor = Pair.Value.Get())
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
	if (!State || Mesh == nullptr)
	{
		return;
	}
	State->GarmentAsset = Asset;
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
	if (!State->EndReason.IsEmpty())
	{
		const FString Reason = State->EndReason;
		Disconnect();
		OnSessionEnded.Broadcast(Reason);  // game thread
	}
}

void UCosimSyncSubsystem::DrainInbound()
{
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
			if (std::holds_alternative<cosim::VehicleIds>(In.msg.msg))
			{
				// The table is the message's arrays (handles, ids, types); decode has checked them.
				const cosim::Outcome Applied = State->Vehicles.apply_ids(In.msg);
				if (!Applied)
				{
					UE_LOG(LogCosim, Warning, TEXT("Cosim: %s"), UTF8_TO_TCHAR(Applied.error().c_str()));
				}
			}
			else if (std::holds_alternative<cosim::Vehicles>(In.msg.msg))
			{
				const cosim::Outcome Applied = State->Vehicles.apply_table(In.msg);
				if (!Applied)
				{
					UE_LOG(LogCosim, Warning, TEXT("Cosim: %s"), UTF8_TO_TCHAR(Applied.error().c_str()));
				}
			}
			else if (std::holds_alternative<cosim::TrafficLights>(In.msg.msg))
			{
				const cosim::Outcome Applied = State->Lights.apply(In.msg);
				if (!Applied)
				{
					UE_LOG(LogCosim, Warning, TEXT("Cosim: %s"), UTF8_TO_TCHAR(Applied.error().c_str()));
				}
			}
			else if (std::holds_alternative<cosim::Asset>(In.msg.msg))
			{
				auto Info = cosim::parse_asset(In.msg);
				if (!Info)
				{
					UE_LOG(LogCosim, Warning, TEXT("Cosim: %s"), UTF8_TO_TCHAR(Info.error().c_str()));
				}
				else if (Info.value().asset == TCHAR_TO_UTF8(*State->GarmentAsset.ToString()))
				{
					State->Asset = Info.take();
				}
			}
			else if (std::holds_alternative<cosim::Residuals>(In.msg.msg))
			{
				auto Frame = cosim::parse_residuals(In.msg);
				if (!Frame)
				{
					UE_LOG(LogCosim, Warning, TEXT("Cosim: %s"), UTF8_TO_TCHAR(Frame.error().c_str()));
				}
				else if (Frame.value().asset == TCHAR_TO_UTF8(*State->GarmentAsset.ToString()))
				{
					State->PendingResiduals = Frame.take();
				}
			}
			break;
		case cosim::Inbound::Kind::kSession:
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
	UWorld* World = GetWorld();
	const cosim::VehicleChanges Changes = State->Vehicles.take_changes();
	for (uint32 Handle : Changes.despawned)
	{
		TWeakObjectPtr<AStaticMeshActor> Actor;
		if (State->Actors.RemoveAndCopyValue(Handle, Actor) && Actor.IsValid())
		{
			Actor->Destroy();
		}
	}
	for (uint32 Handle : Changes.spawned)
	{
		const cosim::VehicleInfo* Info = State->Vehicles.info(Handle);
		const TObjectPtr<UStaticMesh>* Mesh = Info ? LoadedMeshes.Find(FName(UTF8_TO_TCHAR(Info->type.c_str()))) : nullptr;
		UStaticMesh* Chosen = Mesh ? Mesh->Get() : LoadedFallbackMesh.Get();
		FActorSpawnParameters Params;
		Params.SpawnCollisionHandlingOverride = ESpawnActorCollisionHandlingMethod::AlwaysSpawn;
		AStaticMeshActor* Actor = World->SpawnActor<AStaticMeshActor>(FVector::ZeroVector, FRotator::ZeroRotator, Params);
		if (Actor == nullptr)
		{
			continue;
		}
		Actor->GetStaticMeshComponent()->SetMobility(EComponentMobility::Movable);
		Actor->GetStaticMeshComponent()->SetStaticMesh(Chosen);
		State->Actors.Add(Handle, Actor);
	}
	for (auto& Pair : State->Actors)
	{
		AStaticMeshActor* Actor = Pair.Value.Get();
		const std::optional<cosim::VehicleState> S = State->Vehicles.evaluate(Pair.Key, RenderSessionNs);
		if (Actor == nullptr || !S)
		{
			continue;
		}
		// Already Unreal units and axes (cosim/units.h is the one conversion, done by the bridge); the
		// actor's pivot is the body's centre, half its length behind SUMO's front-bumper point.
		const cosim::Vec3 Centre = cosim::body_centre_cm(*S, State->Vehicles.info(Pair.Key));
		Actor->SetActorLocationAndRotation(FVector(Centre[0], Centre[1], Centre[2]),
		                                   FRotator(S->pitch_deg, S->yaw_deg, 0.0));
	}
	const int64 Now = State->Receiver->SessionNowNs();
	if (State->Vehicles.needs_ids() && Now - State->LastIdsRequestNs > 1000000000LL)
	{
		State->LastIdsRequestNs = Now;
		cosim::Request Ask;
		Ask.what = std::string(State->bArea ? cosim::topic::kAreaIds : cosim::topic::kVehicleIds);
		State->Receiver->Publish(cosim::topic::kRequest, MoveTemp(Ask));
	}
	if (State->Lights.needs(State->Vehicles.lights_version()) && Now - State->LastLightsRequestNs > 1000000000LL)
	{
		State->LastLightsRequestNs = Now;
		cosim::Request Ask;
		Ask.what = std::string(cosim::topic::kTrafficLights);
		State->Receiver->Publish(cosim::topic::kRequest, MoveTemp(Ask));
	}
	for (const auto& Change : State->Lights.take_changes())
	{
		OnTrafficLightChanged.Broadcast(UTF8_TO_TCHAR(Change.first.c_str()), UTF8_TO_TCHAR(Change.second.c_str()));
	}
}

FString UCosimSyncSubsystem::GetTrafficLightState(const FString& Id) const
{
	const std::string* Found = State ? State->Lights.state(TCHAR_TO_UTF8(*Id)) : nullptr;
	return Found ? FString(UTF8_TO_TCHAR(Found->c_str())) : FString();
}

void UCosimSyncSubsystem::ApplyGarment()
{
	UDynamicMeshComponent* Mesh = State->Garment.Get();
	if (!State->PendingResiduals || Mesh == nullptr)
	{
		return;
	}
	const cosim::ResidualFrame Frame = std::move(*State->PendingResiduals);
	State->PendingResiduals.reset();
	const size_t Vertices = static_cast<size_t>(State->GarmentBase.Num() / 3);
	if (!State->Asset)
	{
		const int64 Now = State->Receiver->SessionNowNs();
		if (Now - State->LastAssetRequestNs > 1000000000LL)  // joined after the refiner announced it: ask
		{
			State->LastAssetRequestNs = Now;
			cosim::Request Ask;
			Ask.what = std::string(cosim::topic::kAsset);
			State->Receiver->Publish(cosim::topic::kRequest, MoveTemp(Ask));
		}
		return;
	}
	if (const cosim::Outcome Matches = cosim::check_mesh(*State->Asset, Vertices); !Matches)
	{
		UE_LOG(LogCosim, Warning, TEXT("Cosim: %s"), UTF8_TO_TCHAR(Matches.error().c_str()));
		return;
	}
	const cosim::Outcome Applied = cosim::apply_residuals(Frame, State->GarmentBase.GetData(), Vertices,
	                                                      State->ResidualScale, State->GarmentScratch.GetData());
	if (!Applied)
	{
		UE_LOG(LogCosim, Warning, TEXT("Cosim: %s"), UTF8_TO_TCHAR(Applied.error().c_str()));
		return;
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
	State->AppliedResidualFrame = Frame.frame;
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
		Times.tick_ns = Tick.t_ns;
		Times.recv_ns = RecvNs;
		State->Mtp.record(Times);
	}
	if (State->bReportFrames && !State->PendingTicks.empty())
	{
		cosim::FrameReport Report = cosim::frame_report(Times);  // the newest tick's
		if (State->AppliedResidualFrame >= 0)
		{
			Report.residual_frame = State->AppliedResidualFrame;
		}
		State->Receiver->Publish(cosim::topic::kFrames, MoveTemp(Report));
	}
	State->PendingTicks.clear();
}
