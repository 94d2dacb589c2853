package io.mlserve.server.inference;

import io.grpc.Context;
import io.grpc.Deadline;
import io.grpc.Status;
import io.mlserve.security.Principal;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

/**
 * Who asks and until when: the caller's checked principal and the call's cancellation and deadline. Every protocol
 * adapter builds one and hands it to the core with the request; the core reads the principal from here and nowhere
 * else (no thread-local), so an adapter cannot forget to pass it — it does not compile without one.
 *
 * @param principal the caller as authentication established it ({@link Principal#ANONYMOUS} when it is off)
 * @param call      the transport's call: its cancellation and deadline ({@code Context.ROOT} for neither)
 */
public record RequestContext(Principal principal, Context call) {
    /** The server's own requests (a rollout's shadow copies): every model, no deadline. */
    public static final RequestContext INTERNAL = new RequestContext(Principal.ANONYMOUS, Context.ROOT);

    public RequestContext {
        Objects.requireNonNull(principal, "principal");
        Objects.requireNonNull(call, "call");
    }

    /** A caller without authentication ({@code principal} null) is {@link Principal#ANONYMOUS}. */
    public static RequestContext of(Principal principal, Context call) {
        return new RequestContext(principal == null ? Principal.ANONYMOUS : principal, call);
    }

    /**
     * The gRPC call being handled, on its handler's thread: the principal {@code GrpcAuth} checked and put in the
     * call's context (none: authentication is off). gRPC adapters call this once per call and pass the result on.
     */
    public static RequestContext ofGrpcCall() {
        Context call = Context.current();
        return of(io.mlserve.security.Guard.PRINCIPAL.get(call), call);
    }

    /** Whether the caller went away (not the deadline passing: that is a timeout, reported as such). */
    boolean abandoned() {
        return call.isCancelled() && (call.getDeadline() == null || !call.getDeadline().isExpired());
    }

    boolean ended() {
        return call.isCancelled();
    }

    /** The call's deadline as a {@link System#nanoTime()} instant, for a request received at {@code received}. */
    long deadlineNanos(long received) {
        Deadline d = call.getDeadline();
        return d == null ? Long.MAX_VALUE : received + Math.max(0, d.timeRemaining(TimeUnit.NANOSECONDS));
    }

    /** The error for a call whose context ended before it ran: DEADLINE_EXCEEDED or CANCELLED. */
    InferenceError expired() {
        boolean deadline = call.getDeadline() != null && call.getDeadline().isExpired();
        return deadline ? new InferenceError(Status.Code.DEADLINE_EXCEEDED, "the deadline passed before the request ran")
                : new InferenceError(Status.Code.CANCELLED, "the caller cancelled the request before it ran");
    }
}
