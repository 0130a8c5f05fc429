#include "CosimXrTiming.h"

#include "Engine/Engine.h"
#include "IXRTrackingSystem.h"

#if WITH_COSIM_OPENXR
#include "IOpenXRHMD.h"
#include "OpenXRCore.h"  // OpenXRDynamicAPI: the engine builds OpenXR with XR_NO_PROTOTYPES and loads the loader itself
#if PLATFORM_WINDOWS
#include "Windows/AllowWindowsPlatformTypes.h"
#include "Windows/WindowsHWrapper.h"
#define XR_USE_PLATFORM_WIN32
#include <openxr/openxr_platform.h>
#include "Windows/HideWindowsPlatformTypes.h"
#else
#include <time.h>
#define XR_USE_TIMESPEC
#include <openxr/openxr_platform.h>
#endif
#endif

namespace CosimXr
{
bool PredictedPhotonLocalNs(int64& OutLocalNs)
{
#if WITH_COSIM_OPENXR
	IXRTrackingSystem* XR = (GEngine && GEngine->XRSystem.IsValid()) ? GEngine->XRSystem.Get() : nullptr;
	IOpenXRHMD* Hmd = XR ? XR->GetIOpenXRHMD() : nullptr;
	if (Hmd == nullptr)
	{
		return false;
	}
	const XrTime DisplayTime = Hmd->GetDisplayTime();
	const XrInstance Instance = Hmd->GetInstance();
	if (DisplayTime == 0 || Instance == XR_NULL_HANDLE)
	{
		return false;
	}
#if PLATFORM_WINDOWS
	PFN_xrConvertTimeToWin32PerformanceCounterKHR Convert = nullptr;
	if (XR_FAILED(OpenXRDynamicAPI::xrGetInstanceProcAddr(Instance, "xrConvertTimeToWin32PerformanceCounterKHR",
	                                    reinterpret_cast<PFN_xrVoidFunction*>(&Convert))) || Convert == nullptr)
	{
		return false;
	}
	LARGE_INTEGER Counter, Frequency;
	if (XR_FAILED(Convert(Instance, DisplayTime, &Counter)) || !QueryPerformanceFrequency(&Frequency))
	{
		return false;
	}
	// The same integer split as MSVC's steady_clock, so the result is on cosim::mono_now_ns()'s clock.
	const int64 Freq = Frequency.QuadPart, Ctr = Counter.QuadPart;
	OutLocalNs = (Ctr / Freq) * 1000000000LL + (Ctr % Freq) * 1000000000LL / Freq;
	return true;
#else
	PFN_xrConvertTimeToTimespecTimeKHR Convert = nullptr;
	if (XR_FAILED(OpenXRDynamicAPI::xrGetInstanceProcAddr(Instance, "xrConvertTimeToTimespecTimeKHR",
	                                    reinterpret_cast<PFN_xrVoidFunction*>(&Convert))) || Convert == nullptr)
	{
		return false;
	}
	timespec Ts;  // CLOCK_MONOTONIC, as libstdc++'s steady_clock
	if (XR_FAILED(Convert(Instance, DisplayTime, &Ts)))
	{
		return false;
	}
	OutLocalNs = static_cast<int64>(Ts.tv_sec) * 1000000000LL + Ts.tv_nsec;
	return true;
#endif
#else
	return false;
#endif
}

bool HmdPose(FQuat& OutOrientation, FVector& OutPosition)
{
	if (GEngine == nullptr || !GEngine->XRSystem.IsValid())
	{
		return false;
	}
	return GEngine->XRSystem->GetCurrentPose(IXRTrackingSystem::HMDDeviceId, OutOrientation, OutPosition);
}
}
