"""Settings of the audio component (``components.<name>.settings``); see docs/audio.md."""
from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from cosim.config import NonNegative, Positive, Strict

SampleRate = Annotated[int, msgspec.Meta(ge=8000, le=192000)]
Gain = Annotated[float, msgspec.Meta(ge=0, le=10)]
SynthName = Literal["click", "engine_start", "chime", "squeal", "crash", "beep", "horn"]


class FileBackendSettings(Strict):
    path: str = "audio.wav"  # relative paths are inside the session folder (--out)
    subtype: Literal["PCM_16", "PCM_24", "FLOAT"] = "PCM_16"
    render_lag_ms: Annotated[float, msgspec.Meta(ge=0, le=10000)] = 250.0  # events may arrive this late and still land exactly


class JackServerSettings(Strict):
    start: bool = False  # start `jackd -d dummy` ourselves (for machines without a sound card)
    server_name: str = ""  # "" = a unique name per process; else JACK_DEFAULT_SERVER to use or create
    period: Annotated[int, msgspec.Meta(ge=16, le=8192)] = 256
    start_timeout_s: Positive = 10.0


class DeviceBackendSettings(Strict):
    hostapi: str | None = None  # e.g. "JACK Audio Connection Kit", "ALSA"; None = PortAudio's default
    device: str | int | None = None  # None = the host API's default output device
    blocksize: Annotated[int, msgspec.Meta(ge=0, le=8192)] = 0  # 0 = the host's own buffer size
    latency: Literal["low", "high"] | Annotated[float, msgspec.Meta(gt=0, le=2)] = "low"
    # run the component's main thread SCHED_FIFO at this priority (0 = no): the audio callback needs
    # the GIL, and a main thread preempted while holding it makes the callback miss its deadline
    main_thread_rt_priority: Annotated[int, msgspec.Meta(ge=0, le=99)] = 1
    fit_window_s: Annotated[float, msgspec.Meta(gt=0, le=10)] = 0.1  # one clock point per window
    fit_points: Annotated[int, msgspec.Meta(ge=2, le=10000)] = 100  # the drift (slope) is fitted over these
    jack: JackServerSettings = msgspec.field(default_factory=JackServerSettings)


class TestClicks(Strict):
    period_s: Annotated[float, msgspec.Meta(ge=0.01, le=3600)] = 1.0
    start_s: NonNegative = 0.5  # first click at this session time
    lead_ms: Annotated[float, msgspec.Meta(ge=0, le=10000)] = 300.0  # queued this long before it is due
    gain: Gain = 0.8


class SoundSpec(Strict):
    file: str | None = None  # WAV/FLAC/OGG (anything libsndfile reads); relative paths from the working directory
    synth: SynthName | None = None  # used when no file is given, or when the file cannot be loaded
    gain: Gain = 1.0


class VehicleSounds(Strict):
    enabled: bool = True
    gain: Gain = 0.05
    ref_distance_m: Positive = 5.0  # full gain at or inside this distance; 1/d beyond
    max_distance_m: Positive = 250.0  # silent beyond
    max_voices: Annotated[int, msgspec.Meta(ge=0, le=256)] = 12  # nearest vehicles only
    ramp_ms: Annotated[float, msgspec.Meta(ge=0, le=1000)] = 20.0  # gain changes are smoothed over this


class ListenerSettings(Strict):
    pose_device: str = "hmd"  # Pose.device followed as the listener's head
    # Unreal world position (cm) of the tracking-space origin; OpenVR metres map to Unreal by
    # X = -z, Y = x, Z = y (times 100) plus this offset
    origin_cm: tuple[float, float, float] = (0.0, 0.0, 0.0)
    default_position_cm: tuple[float, float, float] = (0.0, 0.0, 170.0)  # before any pose arrives


class Settings(Strict):
    backend: Literal["file", "device", "jack"] = "file"  # "jack" = device backend on PortAudio's JACK host API
    sample_rate: SampleRate = 48000
    channels: Annotated[int, msgspec.Meta(ge=1, le=2)] = 2
    gain: Gain = 1.0
    event_delay_ms: Annotated[float, msgspec.Meta(ge=0, le=10000)] = 0.0  # play events at t_ns + this
    publish_onsets: bool = True  # one AUDIO_ONSET per placed onset on the bus
    file: FileBackendSettings = msgspec.field(default_factory=FileBackendSettings)
    device: DeviceBackendSettings = msgspec.field(default_factory=DeviceBackendSettings)
    test_clicks: TestClicks | None = None
    sounds: dict[Annotated[str, msgspec.Meta(max_length=128)], SoundSpec] = {}  # event kind -> sound
    vehicles: VehicleSounds = msgspec.field(default_factory=VehicleSounds)
    listener: ListenerSettings = msgspec.field(default_factory=ListenerSettings)
