// Registers an OpenXR extension plugin that asks for the runtime's time-conversion extension
// (XR_KHR_win32_convert_performance_counter_time on Windows, XR_KHR_convert_timespec_time on
// Linux). UE's OpenXR plugin enables neither itself (OpenXRHMDModule.cpp); without it
// CosimXr::PredictedPhotonLocalNs cannot map XrTime to the session clock and the display model is
// used. Optional: a runtime without the extension still runs, on the model.
#include "IOpenXRExtensionPlugin.h"
#include "Modules/ModuleManager.h"

class FCosimXrExtModule : public IModuleInterface, public IOpenXRExtensionPlugin
{
public:
	virtual void StartupModule() override { RegisterOpenXRExtensionModularFeature(); }
	virtual void ShutdownModule() override { UnregisterOpenXRExtensionModularFeature(); }

	virtual FString GetDisplayName() override { return FString(TEXT("CosimXrExt")); }

	virtual bool GetOptionalExtensions(TArray<const ANSICHAR*>& OutExtensions) override
	{
#if PLATFORM_WINDOWS
		OutExtensions.Add("XR_KHR_win32_convert_performance_counter_time");
#else
		OutExtensions.Add("XR_KHR_convert_timespec_time");
#endif
		return true;
	}
};

IMPLEMENT_MODULE(FCosimXrExtModule, CosimXrExt)
