// VPC across two availability zones: public subnets for the load balancer and NAT, private
// subnets for tasks, databases and caches; flow logs for every packet decision.
import { RemovalPolicy } from "aws-cdk-lib";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as kms from "aws-cdk-lib/aws-kms";
import * as logs from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";
import { EnvironmentConfig } from "./config";

export interface NetworkProps {
  readonly name: string;
  readonly env: EnvironmentConfig;
  readonly key: kms.IKey;
  readonly removalPolicy: RemovalPolicy;
}

export class Network extends Construct {
  readonly vpc: ec2.Vpc;

  constructor(scope: Construct, id: string, props: NetworkProps) {
    super(scope, id);
    this.vpc = new ec2.Vpc(this, "Vpc", {
      vpcName: props.name,
      ipAddresses: ec2.IpAddresses.cidr(props.env.vpcCidr),
      // The first two zones of the region (looked up once, recorded in cdk.context.json).
      maxAzs: 2,
      natGateways: props.env.large ? 2 : 1,
      restrictDefaultSecurityGroup: true,
      subnetConfiguration: [
        { name: "public", subnetType: ec2.SubnetType.PUBLIC, cidrMask: 20, mapPublicIpOnLaunch: false },
        { name: "private", subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 20 },
      ],
    });
    const flowLogs = new logs.LogGroup(this, "FlowLogs", {
      logGroupName: `/vpc/${props.name}/flow-logs`,
      retention: logs.RetentionDays.ONE_YEAR,
      encryptionKey: props.key,
      removalPolicy: props.removalPolicy,
    });
    this.vpc.addFlowLog("FlowLog", {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogs),
      trafficType: ec2.FlowLogTrafficType.ALL,
    });
  }

  get privateSubnets(): ec2.SubnetSelection {
    return { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS };
  }

  get publicSubnets(): ec2.SubnetSelection {
    return { subnetType: ec2.SubnetType.PUBLIC };
  }
}
