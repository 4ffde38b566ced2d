"""ec2proxy: the EC2 Query API and metadata service in front of an OpenStack cloud."""

__version__ = "0.1.0"
