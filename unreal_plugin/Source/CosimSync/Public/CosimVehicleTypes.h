// Maps SUMO vehicle types (VEHICLE_IDS.types, e.g. "passenger", "bus") to meshes.
#pragma once

#include "CoreMinimal.h"
#include "Engine/DataAsset.h"
#include "CosimVehicleTypes.generated.h"

class UStaticMesh;

UCLASS(BlueprintType)
class COSIMSYNC_API UCosimVehicleTypes : public UDataAsset
{
	GENERATED_BODY()

public:
	UPROPERTY(EditAnywhere, BlueprintReadOnly, Category = "Vehicles")
	TMap<FName, TSoftObjectPtr<UStaticMesh>> Meshes;

	// Used for a type that is not in Meshes.
	UPROPERTY(EditAnywhere, BlueprintReadOnly, Category = "Vehicles")
	TSoftObjectPtr<UStaticMesh> Fallback;
};
