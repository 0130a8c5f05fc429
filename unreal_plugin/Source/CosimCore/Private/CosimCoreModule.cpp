// Unreal module of the core; the only file of CosimCore that includes engine headers (not part of
// the CMake build). On Win64 libzmq is a delay-loaded DLL (ThirdParty/ZeroMQ/ZeroMQ.Build.cs):
// Windows would look for it next to the executable, not in the plugin, so it is loaded here from
// where the build staged it, before any ZeroMQ call (as the engine's ThirdPartyLibrary plugin
// template does).
#include "CosimCoreLibraries.h"

#include "HAL/PlatformProcess.h"
#include "Interfaces/IPluginManager.h"
#include "Misc/Paths.h"
#include "Modules/ModuleManager.h"

DEFINE_LOG_CATEGORY_STATIC(LogCosimCore, Log, All);

namespace
{
bool GZmqLoaded = !PLATFORM_WINDOWS;  // elsewhere libzmq is linked (static or the system's)
}

bool CosimZmqLoaded()
{
	return GZmqLoaded;
}

class FCosimCoreModule final : public IModuleInterface
{
public:
	virtual void StartupModule() override
	{
#if PLATFORM_WINDOWS && defined(COSIM_ZMQ_DLL)
		const TSharedPtr<IPlugin> Plugin = IPluginManager::Get().FindPlugin(TEXT("CosimSync"));
		const FString Path = Plugin.IsValid()
			? FPaths::Combine(Plugin->GetBaseDir(), TEXT("Binaries/ThirdParty/ZeroMQ/Win64"), UTF8_TO_TCHAR(COSIM_ZMQ_DLL))
			: FString();
		ZmqHandle = Path.IsEmpty() ? nullptr : FPlatformProcess::GetDllHandle(*Path);
		GZmqLoaded = ZmqHandle != nullptr;
		if (!GZmqLoaded)
		{
			UE_LOG(LogCosimCore, Error, TEXT("Cosim: cannot load libzmq from '%s': build it with "
				"unreal_plugin/scripts/build_win64_deps.ps1 (docs/unreal_plugin.md); the plugin will not connect"), *Path);
		}
#endif
	}

	virtual void ShutdownModule() override
	{
		if (ZmqHandle != nullptr)
		{
			FPlatformProcess::FreeDllHandle(ZmqHandle);
			ZmqHandle = nullptr;
		}
	}

private:
	void* ZmqHandle = nullptr;
};

IMPLEMENT_MODULE(FCosimCoreModule, CosimCore)
