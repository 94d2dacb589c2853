package io.mlserve.server.inference;

import io.grpc.Status;

/**
 * A request that cannot be answered, with the gRPC status it maps to and a message naming the field and
 * what was expected. Thrown on the request path for the caller's mistakes, so it carries no stack trace.
 */
public final class InferenceError extends RuntimeException {
    private final Status.Code code;

    public InferenceError(Status.Code code, String message) {
        super(message, null, false, false);
        this.code = code;
    }

    public static InferenceError invalid(String message) {
        return new InferenceError(Status.Code.INVALID_ARGUMENT, message);
    }

    public Status.Code code() {
        return code;
    }

    public Status toStatus() {
        return Status.fromCode(code).withDescription(getMessage());
    }

    /** The HTTP status REST v2 answers with for this error. */
    public int httpStatus() {
        return httpStatus(code);
    }

    public static int httpStatus(Status.Code code) {
        return switch (code) {
            case INVALID_ARGUMENT, FAILED_PRECONDITION, OUT_OF_RANGE -> 400;
            case UNAUTHENTICATED -> 401;
            case PERMISSION_DENIED -> 403;
            case NOT_FOUND -> 404;
            case ALREADY_EXISTS, ABORTED -> 409;
            case RESOURCE_EXHAUSTED -> 429;
            case CANCELLED -> 499;
            case UNIMPLEMENTED -> 501;
            case UNAVAILABLE -> 503;
            case DEADLINE_EXCEEDED -> 504;
            default -> 500;
        };
    }
}
