// Project Settings > Game > Cosim Sync (Config/DefaultGame.ini, [/Script/CosimSync.CosimSyncSettings]).
// Durations are integers (microseconds/milliseconds): no time value is ever a float of milliseconds.
#pragma once

#include "CoreMinimal.h"
#include "Engine/DeveloperSettings.h"
#include "CosimSyncSettings.generated.h"

class UCosimVehicleTypes;

UCLASS(Config = Game, DefaultConfig, meta = (DisplayName = "Cosim Sync"))
class COSIMSYNC_API UCosimSyncSettings : public UDeveloperSettings
{
	GENERATED_BODY()

public:
	UPROPERTY(Config, EditAnywhere, Category = "Session")
	bool bAutoConnect = true;

	// This client's name in the session config (components.<name>): configs/rig.yaml calls it "unreal".
	UPROPERTY(Config, EditAnywhere, Category = "Session")
	FString ClientName = TEXT("unreal");

	// Lockstep waits for this client's ACK of every tick.
	UPROPERTY(Config, EditAnywhere, Category = "Session")
	bool bRequired = true;

	UPROPERTY(Config, EditAnywhere, Category = "Endpoints")
	FString ControlEndpoint = TEXT("tcp://127.0.0.1:5550");

	UPROPERTY(Config, EditAnywhere, Category = "Endpoints")
	FString TicksEndpoint = TEXT("tcp://127.0.0.1:5551");

	UPROPERTY(Config, EditAnywhere, Category = "Endpoints")
	FString BusInEndpoint = TEXT("tcp://127.0.0.1:5552");

	UPROPERTY(Config, EditAnywhere, Category = "Endpoints")
	FString BusOutEndpoint = TEXT("tcp://127.0.0.1:5553");

	// Upper bound of one wait of the receiver thread; Stop() takes effect within it.
	UPROPERTY(Config, EditAnywhere, Category = "Receiver", meta = (ClampMin = 1, ClampMax = 100))
	int32 PollTimeoutMs = 20;

	// Vehicles are drawn this far in the past so that two tables bracket the render time.
	UPROPERTY(Config, EditAnywhere, Category = "Vehicles", meta = (ClampMin = 0))
	int32 InterpolationDelayUs = 11111;

	UPROPERTY(Config, EditAnywhere, Category = "Vehicles")
	TSoftObjectPtr<UCosimVehicleTypes> VehicleTypes;

	// Draw only the SUMO bridge's area of interest (area.vehicles / area.ids: the traffic around the
	// participant), not the whole table (sumo.vehicles / sumo.ids). Needs the bridge's area.radius_m.
	UPROPERTY(Config, EditAnywhere, Category = "Vehicles")
	bool bAreaOfInterest = false;

	// Garment residuals: the RESIDUALS asset name applied to the registered dynamic mesh.
	UPROPERTY(Config, EditAnywhere, Category = "Garment")
	FName GarmentAsset = TEXT("skirt");

	// Residual units -> mesh units (100: metres -> centimetres).
	UPROPERTY(Config, EditAnywhere, Category = "Garment")
	float ResidualScale = 100.0f;

	// Display model used when the XR runtime gives no predicted display time.
	UPROPERTY(Config, EditAnywhere, Category = "Display", meta = (ClampMin = 1, ClampMax = 1000))
	float RefreshHz = 90.0f;

	UPROPERTY(Config, EditAnywhere, Category = "Display", meta = (ClampMin = 0))
	int32 VsyncToPhotonUs = 11100;

	// Publish a FRAME_REPORT per displayed frame on the bus (client.frames).
	UPROPERTY(Config, EditAnywhere, Category = "Display")
	bool bReportFrames = true;
};
