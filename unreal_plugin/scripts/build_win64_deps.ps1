# Builds the plugin's third-party libraries for Win64 and puts them where the Build.cs files expect
# them (run once on the rig, in a "Developer PowerShell for VS 2022" or any shell with cmake on PATH):
#
#   powershell -ExecutionPolicy Bypass -File Plugins\CosimSync\scripts\build_win64_deps.ps1
#
#   libzmq 4.3.4 (the version CI tests the core against), as a DLL with CURVE on its built-in
#   tweetnacl (WITH_LIBSODIUM=OFF), built by its own CMake with the Visual Studio 2022 generator, so
#   the names carry the toolset: libzmq-v143-mt-4_3_4.dll / .lib (ZeroMQ.Build.cs expects exactly these)
#     -> Source/ThirdParty/ZeroMQ/include/zmq.h, lib/Win64/*.lib, bin/Win64/*.dll
#   msgpack-cxx 4.1.3 (header-only; the version CI tests against) -> Source/ThirdParty/MsgPack/include/
#
# Written against libzmq 4.3.4's CMakeLists.txt (options BUILD_SHARED, BUILD_STATIC, BUILD_TESTS,
# ENABLE_CURVE, WITH_LIBSODIUM, WITH_PERF_TOOL, WITH_DOCS; RELEASE_POSTFIX "-<toolset>-mt-4_3_4" under
# a Visual Studio generator). Not run in CI (Linux); docs/unreal_plugin.md says so.
param(
    [string]$Work = "$env:TEMP\cosim-deps",
    [string]$Generator = "Visual Studio 17 2022",
    [string]$ZmqVersion = "4.3.4",
    [string]$MsgpackVersion = "4.1.3"
)
$ErrorActionPreference = "Stop"
$Plugin = Split-Path -Parent $PSScriptRoot
$ThirdParty = Join-Path $Plugin "Source\ThirdParty"
New-Item -ItemType Directory -Force -Path $Work | Out-Null

function Fetch([string]$Url, [string]$To) {
    if (-not (Test-Path $To)) {
        Write-Host "downloading $Url"
        Invoke-WebRequest -Uri $Url -OutFile $To -UseBasicParsing
    }
}

# --- libzmq ---------------------------------------------------------------------------------
$ZmqZip = Join-Path $Work "zeromq-$ZmqVersion.zip"
Fetch "https://github.com/zeromq/libzmq/releases/download/v$ZmqVersion/zeromq-$ZmqVersion.zip" $ZmqZip
$ZmqSrc = Join-Path $Work "zeromq-$ZmqVersion"
if (-not (Test-Path $ZmqSrc)) { Expand-Archive -Path $ZmqZip -DestinationPath $Work }
$ZmqBuild = Join-Path $Work "zmq-build"
cmake -S $ZmqSrc -B $ZmqBuild -G $Generator -A x64 `
    -DBUILD_SHARED=ON -DBUILD_STATIC=OFF -DBUILD_TESTS=OFF -DWITH_PERF_TOOL=OFF -DWITH_DOCS=OFF `
    -DENABLE_CURVE=ON -DWITH_LIBSODIUM=OFF -DENABLE_DRAFTS=OFF
if ($LASTEXITCODE -ne 0) { throw "libzmq: cmake configure failed" }
cmake --build $ZmqBuild --config Release --parallel
if ($LASTEXITCODE -ne 0) { throw "libzmq: build failed" }

$Tag = "mt-" + ($ZmqVersion -replace '\.', '_')
$Dll = Get-ChildItem -Path $ZmqBuild -Recurse -Filter "libzmq-v*-$Tag.dll" | Select-Object -First 1
$Lib = Get-ChildItem -Path $ZmqBuild -Recurse -Filter "libzmq-v*-$Tag.lib" | Select-Object -First 1
if (-not $Dll -or -not $Lib) { throw "libzmq: no libzmq-v*-$Tag.dll/.lib under $ZmqBuild" }
$Zmq = Join-Path $ThirdParty "ZeroMQ"
foreach ($d in "include", "lib\Win64", "bin\Win64") { New-Item -ItemType Directory -Force -Path (Join-Path $Zmq $d) | Out-Null }
Copy-Item (Join-Path $ZmqSrc "include\zmq.h") (Join-Path $Zmq "include\") -Force
Copy-Item $Lib.FullName (Join-Path $Zmq "lib\Win64\") -Force
Copy-Item $Dll.FullName (Join-Path $Zmq "bin\Win64\") -Force
Write-Host "libzmq: $($Dll.Name) (if the toolset is not v143, set Name in ZeroMQ.Build.cs to '$($Dll.BaseName)')"

# --- msgpack-cxx (header-only) --------------------------------------------------------------
$MpTar = Join-Path $Work "msgpack-cxx-$MsgpackVersion.tar.gz"
Fetch "https://github.com/msgpack/msgpack-c/releases/download/cpp-$MsgpackVersion/msgpack-cxx-$MsgpackVersion.tar.gz" $MpTar
tar -xzf $MpTar -C $Work
if ($LASTEXITCODE -ne 0) { throw "msgpack-cxx: cannot unpack $MpTar" }
$MpInclude = Join-Path $ThirdParty "MsgPack\include"
New-Item -ItemType Directory -Force -Path $MpInclude | Out-Null
Copy-Item (Join-Path $Work "msgpack-cxx-$MsgpackVersion\include\*") $MpInclude -Recurse -Force
Write-Host "msgpack-cxx $MsgpackVersion headers in $MpInclude"
Write-Host "done: regenerate the project files and build the editor target"
