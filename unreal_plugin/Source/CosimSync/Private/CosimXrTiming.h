// XR display timing and HMD pose, read on the game thread.
#pragma once

#include "CoreMinimal.h"

namespace CosimXr
{
	// The XR runtime's predicted display (photon) time of the frame the game thread is building, on
	// this process's monotonic clock in int64 ns (the same clock as cosim::mono_now_ns()).
	// False when there is no OpenXR session or the runtime cannot convert its time.
	bool PredictedPhotonLocalNs(int64& OutLocalNs);

	// The HMD pose from the engine's XR tracking system (Unreal space: cm, X forward, Z up).
	bool HmdPose(FQuat& OutOrientation, FVector& OutPosition);
}
