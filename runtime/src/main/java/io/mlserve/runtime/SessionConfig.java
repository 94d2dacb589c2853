package io.mlserve.runtime;

/**
 * ONNX Runtime session settings for one model.
 *
 * @param device          where to run; CUDA falls back to CPU when the provider cannot be had
 * @param intraOpThreads  threads inside one operator (0 = ONNX Runtime's default: one per core)
 * @param interOpThreads  threads across independent operators (0 = default; only used in parallel mode)
 * @param optimization    graph optimisation level
 * @param memoryArena     whether the CPU arena allocator is on (faster; holds on to peak memory)
 * @param cudnnConvAlgoSearch cuDNN convolution algorithm search for CUDA: HEURISTIC (default), EXHAUSTIVE, DEFAULT
 * @param allowSpinning   whether idle ONNX Runtime pool threads busy-wait for work (lower latency for one
 *                        model alone; steals cores from the network threads and other models in a server)
 * @param gpuMemLimit     CUDA arena limit in bytes; 0 = no limit
 * @param arenaExtendStrategy CUDA arena growth: kNextPowerOfTwo (default) or kSameAsRequested
 */
public record SessionConfig(Device device, int intraOpThreads, int interOpThreads, Optimization optimization,
                            boolean memoryArena, String cudnnConvAlgoSearch, boolean allowSpinning, long gpuMemLimit,
                            String arenaExtendStrategy) {

    /** Graph optimisation levels, as ONNX Runtime defines them. */
    public enum Optimization { NONE, BASIC, EXTENDED, ALL }

    /** CPU, one intra-op thread (serving runs many sessions at once), all optimisations, arena on. */
    public static final SessionConfig DEFAULT = new SessionConfig(Device.CPU, 1, 0, Optimization.ALL, true, "HEURISTIC",
            false, 0, "kNextPowerOfTwo");

    public SessionConfig {
        if (intraOpThreads < 0) {
            throw new IllegalArgumentException("intra_op_thread_count must be >= 0, got " + intraOpThreads);
        }
        if (interOpThreads < 0) {
            throw new IllegalArgumentException("inter_op_thread_count must be >= 0, got " + interOpThreads);
        }
        if (gpuMemLimit < 0) {
            throw new IllegalArgumentException("gpu_mem_limit must be >= 0 bytes, got " + gpuMemLimit);
        }
        if (!arenaExtendStrategy.equals("kNextPowerOfTwo") && !arenaExtendStrategy.equals("kSameAsRequested")) {
            throw new IllegalArgumentException("arena_extend_strategy must be kNextPowerOfTwo or kSameAsRequested, got "
                    + arenaExtendStrategy);
        }
        if (!cudnnConvAlgoSearch.equals("HEURISTIC") && !cudnnConvAlgoSearch.equals("EXHAUSTIVE")
                && !cudnnConvAlgoSearch.equals("DEFAULT")) {
            throw new IllegalArgumentException(
                    "cudnn_conv_algo_search must be HEURISTIC, EXHAUSTIVE or DEFAULT, got " + cudnnConvAlgoSearch);
        }
    }

    public SessionConfig withDevice(Device d) {
        return new SessionConfig(d, intraOpThreads, interOpThreads, optimization, memoryArena,
                cudnnConvAlgoSearch, allowSpinning, gpuMemLimit, arenaExtendStrategy);
    }

    public SessionConfig withIntraOpThreads(int n) {
        return new SessionConfig(device, n, interOpThreads, optimization, memoryArena,
                cudnnConvAlgoSearch, allowSpinning, gpuMemLimit, arenaExtendStrategy);
    }

    public SessionConfig withInterOpThreads(int n) {
        return new SessionConfig(device, intraOpThreads, n, optimization, memoryArena,
                cudnnConvAlgoSearch, allowSpinning, gpuMemLimit, arenaExtendStrategy);
    }

    public SessionConfig withOptimization(Optimization o) {
        return new SessionConfig(device, intraOpThreads, interOpThreads, o, memoryArena,
                cudnnConvAlgoSearch, allowSpinning, gpuMemLimit, arenaExtendStrategy);
    }

    public SessionConfig withMemoryArena(boolean on) {
        return new SessionConfig(device, intraOpThreads, interOpThreads, optimization, on,
                cudnnConvAlgoSearch, allowSpinning, gpuMemLimit, arenaExtendStrategy);
    }

    public SessionConfig withAllowSpinning(boolean spin) {
        return new SessionConfig(device, intraOpThreads, interOpThreads, optimization, memoryArena,
                cudnnConvAlgoSearch, spin, gpuMemLimit, arenaExtendStrategy);
    }

    /** CUDA arena settings (ignored on the CPU). */
    public SessionConfig withCudaArena(long memLimit, String extendStrategy) {
        return new SessionConfig(device, intraOpThreads, interOpThreads, optimization, memoryArena,
                cudnnConvAlgoSearch, allowSpinning, memLimit, extendStrategy);
    }

    public SessionConfig withCudnnConvAlgoSearch(String search) {
        return new SessionConfig(device, intraOpThreads, interOpThreads, optimization, memoryArena,
                search, allowSpinning, gpuMemLimit, arenaExtendStrategy);
    }
}
