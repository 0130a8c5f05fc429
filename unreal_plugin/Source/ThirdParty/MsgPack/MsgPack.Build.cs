// msgpack-cxx (header-only; the core uses only its packer, which builds without exceptions).
// Copy msgpack-cxx 4.x's include/ directory to ThirdParty/MsgPack/include (see README.md).
using System.IO;
using UnrealBuildTool;

public class MsgPack : ModuleRules
{
	public MsgPack(ReadOnlyTargetRules Target) : base(Target)
	{
		Type = ModuleType.External;
		PublicSystemIncludePaths.Add(Path.Combine(ModuleDirectory, "include"));
		PublicDefinitions.Add("MSGPACK_NO_BOOST=1");
		PublicDefinitions.Add("MSGPACK_DEFAULT_API_VERSION=3");
	}
}
