package io.mlserve.trainer;

import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.mlserve.proto.v1.GetJobRequest;
import io.mlserve.proto.v1.Job;
import io.mlserve.proto.v1.JobRequest;
import io.mlserve.proto.v1.ListJobsRequest;
import io.mlserve.proto.v1.ListJobsResponse;
import io.mlserve.proto.v1.SubmitJobResponse;
import io.mlserve.proto.v1.TrainerServiceGrpc;

/** {@code mlserve.v1.TrainerService} over {@link TrainerJobs}: bad requests are INVALID_ARGUMENT, unknown jobs NOT_FOUND. */
final class GrpcTrainerService extends TrainerServiceGrpc.TrainerServiceImplBase {
    private final TrainerJobs jobs;

    GrpcTrainerService(TrainerJobs jobs) {
        this.jobs = jobs;
    }

    @Override
    public void submitJob(JobRequest request, StreamObserver<SubmitJobResponse> out) {
        SubmitJobResponse r;
        try {
            r = jobs.submit(request, "grpc");
        } catch (IllegalArgumentException e) {
            out.onError(Status.INVALID_ARGUMENT.withDescription(e.getMessage()).asRuntimeException());
            return;
        } catch (IllegalStateException e) {
            out.onError(Status.UNAVAILABLE.withDescription(e.getMessage()).asRuntimeException());
            return;
        } catch (RuntimeException e) {
            out.onError(Status.INTERNAL.withDescription("the trainer failed to take the job: " + e)
                    .asRuntimeException());
            return;
        }
        out.onNext(r);
        out.onCompleted();
    }

    @Override
    public void getJob(GetJobRequest request, StreamObserver<Job> out) {
        if (request.getJobId().isEmpty() && request.getRequestId().isEmpty()) {
            out.onError(Status.INVALID_ARGUMENT.withDescription("give job_id or request_id").asRuntimeException());
            return;
        }
        Job j = jobs.get(request);
        if (j == null) {
            out.onError(Status.NOT_FOUND.withDescription("no job " + (request.getJobId().isEmpty()
                    ? "with request_id " + request.getRequestId() : request.getJobId())
                    + " (unknown, or older than the trainer's history)").asRuntimeException());
            return;
        }
        out.onNext(j);
        out.onCompleted();
    }

    @Override
    public void listJobs(ListJobsRequest request, StreamObserver<ListJobsResponse> out) {
        if (request.getLimit() < 0) {
            out.onError(Status.INVALID_ARGUMENT.withDescription("limit must not be negative").asRuntimeException());
            return;
        }
        out.onNext(jobs.list(request));
        out.onCompleted();
    }
}
