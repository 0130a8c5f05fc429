#include "Modules/ModuleManager.h"

#include "CosimReceiver.h"

class FCosimSyncModule final : public IModuleInterface
{
public:
	virtual void ShutdownModule() override
	{
		CosimWaitForBackgroundCloses(2.0);  // a disconnect's close may still run this module's code
	}
};

IMPLEMENT_MODULE(FCosimSyncModule, CosimSync)
