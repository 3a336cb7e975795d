"""The AWS trainer backends, one construct each, behind the retrain machine's ``Backend?``
choice (the model's trainer ``backend``; :mod:`steward.training.remote` stages their input
and collects their output):

- :class:`LambdaTrainer`: a container-image function runs the zip (jobs ≤ 15 minutes);
- :class:`CodeBuildTrainer`: a managed CodeBuild image runs the zip, no image build
  (``codebuild:startBuild.sync``); the build sends the task's heartbeats;
- :class:`SageMakerTrainer`: a training job with the team's image
  (``sagemaker:createTrainingJob.sync``).

Least privilege: each trainer's role reads only ``training/*/input/*`` of the artifacts
bucket (Steward copies every channel there) and writes only ``training/*/output/*``; none
reaches the registry, the logs or another prefix. The state machine may pass only the
SageMaker role, and only to SageMaker.
"""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from infra.constructs.function import StewardFunction, owned_log_group, service_role
from infra.constructs.nag import acknowledge, arn_token

INPUT, OUTPUT = "training/*/input/*", "training/*/output/*"
LAMBDA_TIMEOUT = cdk.Duration.minutes(15)
LAMBDA_WAIT = cdk.Duration.minutes(16)
BUILD_TIMEOUT = cdk.Duration.hours(36)  # CodeBuild's longest; the buildspec kills earlier
HEARTBEAT = cdk.Duration.minutes(5)  # the build sends one a minute
JOBS = "steward-*"  # training job names (steward.training.remote.job_name)


def grant_run_prefixes(role: iam.IRole, artifacts: s3.IBucket, scope: Construct) -> None:
    """Read the runs' input, write their output: nothing else of the bucket."""
    role.add_to_principal_policy(
        iam.PolicyStatement(actions=["s3:GetObject"], resources=[artifacts.arn_for_objects(INPUT)])
    )
    role.add_to_principal_policy(
        iam.PolicyStatement(actions=["s3:PutObject"], resources=[artifacts.arn_for_objects(OUTPUT)])
    )
    for prefix in (INPUT, OUTPUT):
        acknowledge(
            scope,
            f"AwsSolutions-IAM5[Resource::{arn_token(artifacts)}/{prefix}]",
            "A trainer reads the runs' staged input and writes their output: one prefix each, "
            "the run's folder named at run time.",
        )


def grant_stage(role: iam.IRole, artifacts: s3.IBucket, scope: Construct) -> None:
    """The retrain steps' side: stage the runs' input, read back their output."""
    role.add_to_principal_policy(
        iam.PolicyStatement(actions=["s3:PutObject"], resources=[artifacts.arn_for_objects(INPUT)])
    )
    role.add_to_principal_policy(
        iam.PolicyStatement(actions=["s3:GetObject"], resources=[artifacts.arn_for_objects(OUTPUT)])
    )
    for prefix in (INPUT, OUTPUT):
        acknowledge(
            scope,
            f"AwsSolutions-IAM5[Resource::{arn_token(artifacts)}/{prefix}]",
            "The retrain steps stage each run's input and read its output under "
            "training/<model>/<run>/, named at run time.",
        )


def _catch_into(state: sfn.TaskStateBase, collect: sfn.IChainable) -> sfn.TaskStateBase:
    """A backend's failure goes to Collect, which fails the run with the trainer's own
    ``output/failure`` text (or the backend's reason)."""
    state.add_catch(collect, errors=["States.ALL"], result_path="$.trainer_error")
    return state


class LambdaTrainer(Construct):
    """A function that fetches a run's input into ``/tmp/ml``, runs the entry point as the
    ``local`` backend does and uploads ``model.tar.gz`` and ``output.tar.gz``."""

    def __init__(self, scope: Construct, construct_id: str, *, artifacts: s3.IBucket) -> None:
        super().__init__(scope, construct_id)
        self.fn = StewardFunction(
            self,
            "Function",
            source="trainer",
            image=True,
            description="Steward lambda trainer backend: the team's training code, ≤ 15 min",
            environment={"STEWARD_ARTIFACTS_BUCKET": artifacts.bucket_name},
            memory_size=3008,
            timeout=LAMBDA_TIMEOUT,
            reserved_concurrency=None,
        )
        grant_run_prefixes(self.fn.role, artifacts, self.fn.role)

    def state(self, scope: Construct, collect: sfn.IChainable) -> sfn.TaskStateBase:
        step = tasks.LambdaInvoke(
            scope,
            "TrainOnLambda",
            lambda_function=self.fn.function,
            input_path="$.staged.request",  # the payload; ResultPath keeps the whole state
            payload_response_only=True,
            result_path="$.ran",
            retry_on_service_exceptions=True,
            task_timeout=sfn.Timeout.duration(LAMBDA_WAIT),
        )
        return _catch_into(step, collect)


# The buildspec's one command: a shell script kept beside this module.
BUILD_SCRIPT = (Path(__file__).parent / "codebuild_trainer.sh").read_text()


class CodeBuildTrainer(Construct):
    """A CodeBuild project on a managed image (no image to build): the buildspec fetches the
    run's input, installs the requirements, runs the entry point under the SM_* variables
    without the build's credentials, and uploads the output; a heartbeat a minute."""

    def __init__(
        self, scope: Construct, construct_id: str, *, artifacts: s3.IBucket, retrain_arn: str
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = owned_log_group(self, "Logs")
        self.role = service_role(self, "Role", "codebuild", "Steward codebuild trainer backend")
        self.project = codebuild.Project(
            self,
            "Project",
            description="Steward codebuild trainer backend: the team's training code",
            role=self.role,
            environment=codebuild.BuildEnvironment(
                build_image=codebuild.LinuxBuildImage.STANDARD_7_0,
                compute_type=codebuild.ComputeType.MEDIUM,
                privileged=False,
            ),
            build_spec=codebuild.BuildSpec.from_object(
                {"version": "0.2", "phases": {"build": {"commands": [BUILD_SCRIPT]}}}
            ),
            timeout=BUILD_TIMEOUT,
            logging=codebuild.LoggingOptions(
                cloud_watch=codebuild.CloudWatchLoggingOptions(log_group=self.log_group)
            ),
        )
        grant_run_prefixes(self.role, artifacts, self.role)
        self.role.add_to_principal_policy(
            iam.PolicyStatement(actions=["states:SendTaskHeartbeat"], resources=[retrain_arn])
        )
        acknowledge(
            self.project,
            "AwsSolutions-CB4",
            "The build writes only to the artifacts bucket (S3-managed encryption) and its "
            "own log group; it keeps no artifacts of its own to encrypt with a KMS key.",
        )
        acknowledge(
            self.role,
            f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:"
            f"<AWS::AccountId>:log-group:/aws/codebuild/<{self._project_ref()}>:*]",
            "CodeBuild's own log group grant (the project's name, any stream).",
        )
        acknowledge(
            self.role,
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:codebuild:<AWS::Region>:"
            f"<AWS::AccountId>:report-group/<{self._project_ref()}>-*]",
            "CodeBuild's default report-group grant for the project (no report is written).",
        )

    def _project_ref(self) -> str:
        stack = cdk.Stack.of(self)
        child = self.project.node.default_child
        assert isinstance(child, cdk.CfnElement)
        return str(stack.resolve(stack.get_logical_id(child)))

    def state(self, scope: Construct, collect: sfn.IChainable) -> sfn.TaskStateBase:
        names = (
            "STEWARD_INPUT",
            "STEWARD_OUTPUT",
            "STEWARD_ENTRY_POINT",
            "STEWARD_REQUIREMENTS",
            "STEWARD_TIMEOUT_S",
            "STEWARD_CHANNELS",
        )
        env = {
            name: codebuild.BuildEnvironmentVariable(
                value=sfn.JsonPath.string_at(f"$.staged.request.env.{name}")
            )
            for name in names
        }
        env["STEWARD_TASK_TOKEN"] = codebuild.BuildEnvironmentVariable(
            value=sfn.JsonPath.task_token
        )
        step = tasks.CodeBuildStartBuild(
            scope,
            "TrainOnCodeBuild",
            project=self.project,
            integration_pattern=sfn.IntegrationPattern.RUN_JOB,
            environment_variables_override=env,
            result_path="$.ran",
            result_selector={
                "Build": {
                    "StartTime.$": "$.Build.StartTime",
                    "EndTime.$": "$.Build.EndTime",
                    "BuildStatus.$": "$.Build.BuildStatus",
                }
            },
            task_timeout=sfn.Timeout.at("$.staged.wait_s"),
            heartbeat_timeout=sfn.Timeout.duration(HEARTBEAT),
        )
        # StartBuild refused (throttled, concurrent build limit): the build never ran.
        step.add_retry(
            errors=["CodeBuild.AWSCodeBuildException"],
            interval=cdk.Duration.seconds(30),
            max_attempts=2,
            backoff_rate=2,
        )
        return _catch_into(step, collect)


class SageMakerTrainer(Construct):
    """The role a training job runs as: the runs' input and output prefixes, its own logs
    and metrics, pulling the team's image. The state machine passes it to SageMaker only."""

    def __init__(self, scope: Construct, construct_id: str, *, artifacts: s3.IBucket) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self.role = service_role(
            self, "Role", "sagemaker", "Steward sagemaker trainer backend: the training job's role"
        )
        grant_run_prefixes(self.role, artifacts, self.role)
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[
                    stack.format_arn(
                        service="logs",
                        resource="log-group",
                        resource_name="/aws/sagemaker/TrainingJobs:*",
                        arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                    )
                ],
            )
        )
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/*"}},
            )
        )
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=[
                    "ecr:BatchCheckLayerAvailability",
                    "ecr:GetDownloadUrlForLayer",
                    "ecr:BatchGetImage",
                ],
                resources=[
                    stack.format_arn(service="ecr", resource="repository", resource_name="*")
                ],
            )
        )
        self.role.add_to_principal_policy(
            iam.PolicyStatement(actions=["ecr:GetAuthorizationToken"], resources=["*"])
        )
        acknowledge(
            self.role,
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:"
            "<AWS::AccountId>:log-group:/aws/sagemaker/TrainingJobs:*]",
            "SageMaker writes a training job's logs to this one log group, a stream per job.",
        )
        acknowledge(
            self.role,
            "AwsSolutions-IAM5[Resource::*]",
            "ecr:GetAuthorizationToken and cloudwatch:PutMetricData take no resource; the "
            "latter is limited to SageMaker's namespaces by condition.",
        )
        acknowledge(
            self.role,
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ecr:<AWS::Region>:"
            "<AWS::AccountId>:repository/*]",
            "The team's training image is named per trainer at run time (PUT .../trainer), "
            "in any repository of this account; pulling is all the role may do.",
        )

    def state(self, scope: Construct, collect: sfn.IChainable) -> sfn.TaskStateBase:
        request = {
            f"{field}.$": f"$.staged.request.{field}"
            for field in (
                "TrainingJobName",
                "AlgorithmSpecification",
                "HyperParameters",
                "InputDataConfig",
                "OutputDataConfig",
                "ResourceConfig",
                "StoppingCondition",
                "Tags",
            )
        }
        step = sfn.CustomState(
            scope,
            "TrainOnSageMaker",
            state_json={
                "Type": "Task",
                "Resource": f"arn:{cdk.Aws.PARTITION}:states:::sagemaker:createTrainingJob.sync",
                "Parameters": {**request, "RoleArn": self.role.role_arn},
                "ResultPath": "$.ran",
                "ResultSelector": {"TrainingTimeInSeconds.$": "$.TrainingTimeInSeconds"},
                "TimeoutSecondsPath": "$.staged.wait_s",
            },
        )
        step.add_retry(
            errors=["SageMaker.AmazonSageMakerException"],
            interval=cdk.Duration.seconds(30),
            max_attempts=2,
            backoff_rate=2,
        )
        step.add_catch(collect, errors=["States.ALL"], result_path="$.trainer_error")
        return step  # type: ignore[return-value]

    def grant_run(self, machine: sfn.StateMachine) -> None:
        """What ``createTrainingJob.sync`` needs: the jobs named ``steward-*``, the managed
        rule Step Functions polls them with, and passing this role to SageMaker only."""
        stack = cdk.Stack.of(self)
        jobs = stack.format_arn(service="sagemaker", resource="training-job", resource_name=JOBS)
        rule = stack.format_arn(
            service="events",
            resource="rule",
            resource_name="StepFunctionsGetEventsForSageMakerTrainingJobsRule",
        )
        machine.add_to_role_policy(
            iam.PolicyStatement(
                actions=[
                    "sagemaker:CreateTrainingJob",
                    "sagemaker:DescribeTrainingJob",
                    "sagemaker:StopTrainingJob",
                    "sagemaker:AddTags",
                ],
                resources=[jobs],
            )
        )
        machine.add_to_role_policy(
            iam.PolicyStatement(
                actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                resources=[rule],
            )
        )
        machine.add_to_role_policy(
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[self.role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            )
        )
        acknowledge(
            machine,
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:"
            "<AWS::AccountId>:training-job/steward-*]",
            "Training jobs are named per run (steward-<model>-<hash>); only those.",
        )


class TrainerBackends(Construct):
    """The three AWS backends together, as the retrain machine's branches."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        artifacts: s3.IBucket,
        retrain_arn: str,
        codebuild: bool = True,
    ) -> None:
        super().__init__(scope, construct_id)
        self.on_lambda = LambdaTrainer(self, "Lambda", artifacts=artifacts)
        self.on_codebuild = (
            CodeBuildTrainer(self, "CodeBuild", artifacts=artifacts, retrain_arn=retrain_arn)
            if codebuild
            else None
        )
        self.on_sagemaker = SageMakerTrainer(self, "SageMaker", artifacts=artifacts)
