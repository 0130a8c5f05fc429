// The plugin's game-thread side: owns the receiver thread, drains its queue once per frame, keeps
// the latest state per vehicle, spawns/moves/despawns vehicle actors by type, applies garment
// residuals to a dynamic mesh, reads the HMD pose and the XR display timing, and reports present
// and photon times back (ACK per tick, FRAME_REPORT per frame). Everything here runs on the game
// thread; delegates are broadcast only from Tick().
#pragma once

#include "CoreMinimal.h"
#include "Subsystems/WorldSubsystem.h"
#include "CosimSyncSubsystem.generated.h"

class UDynamicMeshComponent;
class UStaticMesh;
struct FCosimGameState;

DECLARE_DYNAMIC_MULTICAST_DELEGATE_OneParam(FCosimSessionEnded, const FString&, Reason);
DECLARE_DYNAMIC_MULTICAST_DELEGATE_TwoParams(FCosimTrafficLightChanged, const FString&, Id, const FString&, LightState);

UCLASS()
class COSIMSYNC_API UCosimSyncSubsystem : public UTickableWorldSubsystem
{
	GENERATED_BODY()

public:
	UCosimSyncSubsystem();
	// UHT would define this one in the .gen.cpp, where FCosimGameState is incomplete (Templates/UniquePtr.h)
	UCosimSyncSubsystem(FVTableHelper& Helper);
	virtual ~UCosimSyncSubsystem() override;  // out of line: FCosimGameState is private

	virtual bool ShouldCreateSubsystem(UObject* Outer) const override;
	virtual void OnWorldBeginPlay(UWorld& InWorld) override;
	virtual void Deinitialize() override;
	virtual void Tick(float DeltaTime) override;
	virtual TStatId GetStatId() const override;

	UFUNCTION(BlueprintCallable, Category = "Cosim")
	bool Connect();

	UFUNCTION(BlueprintCallable, Category = "Cosim")
	void Disconnect();

	// The dynamic mesh whose vertices (in residual order) RESIDUALS for `Asset` refine; kept across
	// Disconnect/Connect (a reconnect registers it again), callable before connecting.
	UFUNCTION(BlueprintCallable, Category = "Cosim")
	void RegisterGarment(FName Asset, UDynamicMeshComponent* Mesh);

	// Session time now (int64 ns), or -1 before the clock is known.
	UFUNCTION(BlueprintPure, Category = "Cosim")
	int64 GetSessionTimeNs() const;

	UPROPERTY(BlueprintAssignable, Category = "Cosim")
	FCosimSessionEnded OnSessionEnded;

	// A traffic light's SUMO state string changed (one character per controlled link: r y g G ...).
	UPROPERTY(BlueprintAssignable, Category = "Cosim")
	FCosimTrafficLightChanged OnTrafficLightChanged;

	// A traffic light's current SUMO state string, empty if unknown.
	UFUNCTION(BlueprintPure, Category = "Cosim")
	FString GetTrafficLightState(const FString& Id) const;

private:
	void DrainInbound();
	void UpdateVehicles(int64 RenderSessionNs);
	void ApplyGarment();
	void ReportFrame(int64 PoseSampleNs, int64 PresentNs, int64 PhotonNs);
	void DisplayTimes(int64& OutPresentNs, int64& OutPhotonNs);

	TUniquePtr<FCosimGameState> State;

	// the garment registration, which outlives a connection
	FName RegisteredAsset;
	TWeakObjectPtr<UDynamicMeshComponent> RegisteredMesh;

	// UObjects the game state uses, held where the garbage collector sees them
	UPROPERTY(Transient)
	TMap<FName, TObjectPtr<UStaticMesh>> LoadedMeshes;
	UPROPERTY(Transient)
	TObjectPtr<UStaticMesh> LoadedFallbackMesh;
};
