"""IAM roles: one least-privilege role per function, one for the topic rules (documents: cloud/aws/iam.py)."""


from cloud.aws import iam
from cloud.aws.errors import absent_on_not_found
from cloud.aws.resources.base import Resource, canonical

ROLE_POLICY_NAME = "least-privilege"


class Role(Resource):
    """A role one AWS service assumes, with one inline least-privilege policy."""

    kind = "iam role"
    service = "iam"

    def __init__(self, env, name, principal, policy, description):
        """policy: () -> the policy document, built when needed (ARNs need the account)."""
        super().__init__(env, name)
        self.principal, self.policy, self.description = principal, policy, description

    @classmethod
    def of_function(cls, env, function_key):
        return cls(
            env,
            iam.role_name(env.topology["functions"][function_key]),
            "lambda.amazonaws.com",
            lambda: iam.function_policy(env.topology, function_key, env.arns),
            "Execution role of one cat feeder function",
        )

    @classmethod
    def of_topic_rules(cls, env):
        return cls(
            env,
            env.topology["topic_rules_role"]["name"],
            "iot.amazonaws.com",
            lambda: iam.topic_rules_policy(env.topology, env.arns),
            "Assumed by IoT Core for the cat feeder's topic rule actions",
        )

    def read_existing(self):
        role = self.env.iam.get_role(RoleName=self.name)["Role"]
        policy = absent_on_not_found(
            "iam",
            lambda: self.env.iam.get_role_policy(RoleName=self.name, PolicyName=ROLE_POLICY_NAME)[
                "PolicyDocument"
            ],
        )
        return {"trust": canonical(role["AssumeRolePolicyDocument"]), "policy": canonical(policy)}

    def desired(self):
        return {
            "trust": canonical(iam.trust_policy(self.env.arns, self.principal)),
            "policy": canonical(self.policy()),
        }

    def create(self):
        desired = self.desired()
        self.env.iam.create_role(
            RoleName=self.name,
            AssumeRolePolicyDocument=desired["trust"],
            Description=self.description,
        )
        self.env.iam.put_role_policy(
            RoleName=self.name, PolicyName=ROLE_POLICY_NAME, PolicyDocument=desired["policy"]
        )

    def update(self, current):
        desired = self.desired()
        self.env.iam.update_assume_role_policy(RoleName=self.name, PolicyDocument=desired["trust"])
        self.env.iam.put_role_policy(
            RoleName=self.name, PolicyName=ROLE_POLICY_NAME, PolicyDocument=desired["policy"]
        )

    def delete(self):
        absent_on_not_found(
            "iam", lambda: self.env.iam.delete_role_policy(RoleName=self.name, PolicyName=ROLE_POLICY_NAME)
        )
        self.env.iam.delete_role(RoleName=self.name)
